"""A `reginfo` source's keys, checked through the registry like every kind's."""

from pathlib import Path

import pytest

from tracker.config import ConfigError, load_config
from tracker.kinds.reginfo.config import ReginfoConfig

REPO_CONFIG = Path(__file__).resolve().parents[4] / "config" / "rulewatch.toml"


def source(tmp_path, keys: str):
    path = tmp_path / "rulewatch.toml"
    path.write_text(f'[database]\nurl = "sqlite:///x.db"\n\n[[sources]]\nname = "reginfo"\nkind = "reginfo"\n{keys}\n')
    return load_config(path).source("reginfo")


def test_the_shipped_configuration_follows_the_bis_rin_and_agency():
    reginfo = load_config(REPO_CONFIG).source("reginfo")
    assert isinstance(reginfo, ReginfoConfig)
    assert (reginfo.rins, reginfo.agencies) == (("0694-AJ90",), ("0694",))
    assert reginfo.base_url == "https://www.reginfo.gov" and reginfo.interval == 6 * 3600


def test_defaults_base_url_and_a_six_hour_interval(tmp_path):
    reginfo = source(tmp_path, 'rins = ["0694-AJ90"]')
    assert reginfo.base_url == "https://www.reginfo.gov" and reginfo.interval == 6 * 3600
    assert reginfo.agencies == ()


def test_follows_named_rins_and_every_rin_of_a_named_agency(tmp_path):
    reginfo = source(tmp_path, 'rins = ["0694-AJ90"]\nagencies = ["0503"]\nbase_url = "http://127.0.0.1:8080/"')
    assert reginfo.base_url == "http://127.0.0.1:8080"
    assert reginfo.follows("0694-AJ90") and reginfo.follows("0503-AA80")
    assert not reginfo.follows("0694-AJ91") and not reginfo.follows("1218-AC86")


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ('rins = ["0694-aj90"]', "sources.reginfo.rins: '0694-aj90' is not of the form 0694-AJ90"),
        ('rins = ["RIN 0694-AJ90"]', "is not of the form 0694-AJ90"),
        ('agencies = ["694"]', "sources.reginfo.agencies: '694' is not of the form 0694"),
        ('agencies = ["0694 "]', "is not of the form 0694"),
        ('rins = "0694-AJ90"\nparts = ["744"]', "sources.reginfo.parts: unknown key"),
        ('base_url = "ftp://www.reginfo.gov"', "sources.reginfo.base_url: expected an http(s) URL"),
        ('interval = "soon"\nrins = ["0694-AJ90"]', "sources.reginfo.interval"),
        ("", "sources.reginfo: give at least one of rins or agencies"),
        ("rins = []", "give at least one of rins or agencies"),
    ],
)
def test_a_wrong_key_or_value_is_refused_naming_it(tmp_path, keys, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(").replace(")", r"\)")):
        source(tmp_path, keys)
