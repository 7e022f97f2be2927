import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.reading.content import Block, Content
from tracker.redline.compute import diff_contents, diff_words, same_words, words_of
from tracker.redline.render import (
    default_context,
    excerpt,
    excerpt_html,
    redline_ops,
    redline_ops_json,
    render_html,
    render_text,
)

SECTION = "§ 744.23"


def para(label: str, text: str, section: str = SECTION) -> Block:
    return Block(f"{label} {text}", label=label, section=section + label)


def doc(*blocks: Block, title: str = "Supercomputers") -> Content:
    heading = Block(f"{SECTION} Supercomputers.", kind="heading", label=SECTION, section=SECTION)
    return Content(title, (heading, *blocks))


BASE = [
    para("(a)", "A license shall be required for the export of any item subject to the EAR."),
    para("(b)", "License applications will be reviewed with a presumption of denial."),
    para("(c)", "Nothing in this section relieves the exporter of any other obligation."),
    para("(d)", "Recordkeeping requirements under part 762 of the EAR apply to these exports."),
]


def kinds(redline) -> list[str]:
    return [hunk.kind for hunk in redline.hunks]


def sides(ops) -> tuple[str, str]:
    old = "".join(op["text"] for op in ops if op["op"] in ("equal", "delete"))
    new = "".join(op["text"] for op in ops if op["op"] in ("equal", "insert"))
    return old, new


def assert_rebuilds(old: Content | None, new: Content) -> None:
    redline = diff_contents(old, new)
    old_text, new_text = sides(redline_ops_json(redline))
    assert old_text == (old.text() if old is not None else "")
    assert new_text == new.text()


def test_unchanged_content_is_all_equal():
    redline = diff_contents(doc(*BASE), doc(*BASE))
    assert set(kinds(redline)) == {"equal"}
    assert not redline.changed


def test_small_word_edit_is_one_changed_hunk_inserting_not():
    new_a = para("(a)", BASE[0].text[4:].replace("shall", "shall not"))
    redline = diff_contents(doc(*BASE), doc(new_a, *BASE[1:]))

    changed = [hunk for hunk in redline.hunks if hunk.kind != "equal"]
    assert len(changed) == 1
    hunk = changed[0]
    assert hunk.kind == "changed" and hunk.section == "§ 744.23(a)"
    edits = [op for op in hunk.ops if op.op != "equal"]
    assert len(edits) == 1
    assert edits[0].op == "insert" and edits[0].text.strip() == "not"
    assert edits[0].section == "§ 744.23(a)"
    assert "".join(op.text for op in hunk.ops if op.op != "delete") == new_a.text


def test_number_change_replaces_the_whole_number():
    old = Block("The fee is $1,000.50 within 30 days.", section=SECTION)
    new = Block("The fee is $1,250.50 within 30 days.", section=SECTION)
    redline = diff_contents(doc(old), doc(new))
    (hunk,) = [h for h in redline.hunks if h.kind == "changed"]
    assert [(op.op, op.text) for op in hunk.ops if op.op != "equal"] == [
        ("delete", "1,000.50"),
        ("insert", "1,250.50"),
    ]


def test_inserted_paragraph():
    extra = para("(e)", "The Secretary of Commerce may inform the exporter by specific notice.")
    redline = diff_contents(doc(*BASE), doc(*BASE[:2], extra, *BASE[2:]))
    assert kinds(redline) == ["equal", "equal", "equal", "inserted", "equal", "equal"]
    hunk = redline.hunks[3]
    assert hunk.old is None and hunk.new == extra
    assert [(op.op, op.text) for op in hunk.ops] == [("insert", extra.text)]


def test_deleted_paragraph_keeps_its_place():
    redline = diff_contents(doc(*BASE), doc(BASE[0], BASE[2], BASE[3]))
    assert kinds(redline) == ["equal", "equal", "deleted", "equal", "equal"]
    hunk = redline.hunks[2]
    assert hunk.old == BASE[1] and hunk.new is None
    assert hunk.ops[0].op == "delete" and hunk.ops[0].section == "§ 744.23(b)"


def test_moved_paragraph_is_a_move_not_insert_and_delete():
    new = doc(BASE[1], BASE[2], BASE[3], BASE[0])
    redline = diff_contents(doc(*BASE), new)

    assert "inserted" not in kinds(redline) and "deleted" not in kinds(redline)
    moved = [hunk for hunk in redline.hunks if hunk.kind == "moved"]
    assert len(moved) == 2
    gone, came = moved
    assert redline.hunks.index(gone) == 1  # where (a) was
    assert redline.hunks.index(came) == len(redline.hunks) - 1  # where it is now
    assert gone.ops[0].op == "delete" and gone.ops[0].move == "from"
    assert came.ops[0].op == "insert" and came.ops[0].move == "to"
    assert gone.ops[0].move_id == came.ops[0].move_id != 0
    assert gone.old == came.old == BASE[0] and gone.new == came.new == BASE[0]
    assert_rebuilds(doc(*BASE), new)

    text = render_text(redline)
    assert "< moved to § 744.23(a): " + BASE[0].text in text
    assert "> moved from § 744.23(a): " + BASE[0].text in text


def test_moved_and_edited_paragraph_shows_its_edit_at_the_new_place():
    edited = para("(e)", BASE[0].text[4:])  # (a) moves to the end and becomes (e)
    new = doc(BASE[1], BASE[2], BASE[3], edited)
    redline = diff_contents(doc(*BASE), new)

    moved = [hunk for hunk in redline.hunks if hunk.kind == "moved"]
    assert [hunk.ops[0].move for hunk in moved] == ["from", "to"]
    assert moved[1].ops[0].text == edited.text
    assert "> moved from § 744.23(a): ([-a-]{+e+}) A license" in render_text(redline)
    assert_rebuilds(doc(*BASE), new)


def test_paragraphs_moved_together_do_not_hijack_the_alignment():
    # Left to difflib alone, the two moved paragraphs (the longest common run)
    # would anchor the alignment and everything after their old place would
    # show as deleted and inserted.
    blocks = [para(f"({k})", f"Paragraph {k}: the exporter shall file {k}.") for k in range(12)]
    edited = [para(b.label, b.text.replace("shall", "must")) for b in blocks]
    old = doc(*blocks)
    new = doc(
        blocks[0],
        edited[1],
        edited[2],
        edited[5],
        blocks[6],
        edited[7],
        edited[8],
        blocks[9],
        edited[10],
        blocks[11],
        blocks[3],
        blocks[4],
    )
    redline = diff_contents(old, new)
    assert kinds(redline).count("changed") == 6
    assert kinds(redline).count("moved") == 4
    assert_rebuilds(old, new)


def test_repeated_paragraphs_stay_in_place_around_an_edit():
    # Two paragraphs repeated as a pair: aligning the first pair of the old with the
    # second of the new (difflib's longest block first) made the edit look like a
    # paragraph removed here, added there and a move.
    old = doc(Block("Yes"), Block("The exporter must file."), Block("Yes"), Block("The exporter must file."))
    new = doc(Block("Yes"), Block("The exporter must file now."), Block("Yes"), Block("The exporter must file."))
    assert kinds(diff_contents(old, new)) == ["equal", "equal", "changed", "equal", "equal"]  # heading first
    assert_rebuilds(old, new)


def test_short_paragraphs_are_not_moves():
    old = doc(Block("[Reserved]"), *BASE)
    new = doc(*BASE, Block("[Reserved]"))
    assert "moved" not in kinds(diff_contents(old, new))


def test_renumbered_paragraphs_pair_by_text_not_by_label():
    old = doc(*BASE[:2])
    fresh = para("(a)", "Definitions: the term supercomputer means a computing system.")
    new = doc(fresh, para("(b)", BASE[0].text[4:]), para("(c)", BASE[1].text[4:]))
    redline = diff_contents(old, new)
    assert kinds(redline) == ["equal", "inserted", "changed", "changed"]
    assert redline.hunks[2].old == BASE[0] and redline.hunks[3].old == BASE[1]


def test_rewritten_paragraph_with_same_label_is_changed():
    rewritten = para("(b)", "The Bureau may revoke any license at any time.")
    redline = diff_contents(doc(*BASE), doc(BASE[0], rewritten, *BASE[2:]))
    (hunk,) = [h for h in redline.hunks if h.kind != "equal"]
    assert hunk.kind == "changed" and hunk.old == BASE[1] and hunk.new == rewritten
    assert hunk.ops[0].op == "equal" and hunk.ops[0].text.startswith("(b)")


def test_old_none_is_all_inserted():
    new = doc(*BASE)
    redline = diff_contents(None, new)
    assert set(kinds(redline)) == {"inserted"}
    assert redline.old_title == "" and redline.changed
    ops = redline_ops_json(redline)
    assert {op["op"] for op in ops} == {"insert"}
    assert sides(ops) == ("", new.text())


def test_empty_contents():
    empty = Content("", ())
    redline = diff_contents(empty, empty)
    assert redline.hunks == () and not redline.changed
    assert redline_ops_json(redline) == []
    assert render_text(redline) == "" and excerpt(redline) == ""


def test_title_change():
    redline = diff_contents(doc(*BASE), doc(*BASE, title="Supercomputers and AI"))
    assert redline.changed
    assert set(kinds(redline)) == {"equal"}
    assert render_text(redline).startswith("Title: Supercomputers{+ and AI+}")
    assert "Title:" in render_html(redline)
    assert excerpt(redline) == "Title: Supercomputers{+ and AI+}"


def test_ops_json_shape():
    new_a = para("(a)", BASE[0].text[4:].replace("shall", "shall not"))
    untitled = Content("T", (Block("no section here"),))
    ops = redline_ops_json(diff_contents(doc(*BASE), doc(new_a, *BASE[1:])))
    assert all(set(op) == {"op", "text", "section"} for op in ops)
    assert {"op": "equal", "text": "\n", "section": "§ 744.23(a)"} in ops
    assert redline_ops_json(diff_contents(None, untitled)) == [
        {"op": "insert", "text": "no section here", "section": None}
    ]


def test_render_text_marks():
    new_a = para("(a)", "A license must be required for the export of any item subject to the EAR.")
    extra = para("(e)", "Exports to Country Group D:1 are also covered.")
    redline = diff_contents(doc(*BASE), doc(new_a, BASE[1], BASE[3], extra))
    text = render_text(redline)
    assert "§ 744.23(a):\n(a) A license [-shall-]{+must+} be required" in text
    assert "§ 744.23(c):\n- " + BASE[2].text in text
    assert "§ 744.23(e):\n+ " + extra.text in text
    assert BASE[1].text in text  # unchanged paragraphs shown plain

    short = render_text(redline, context=0)
    assert BASE[1].text not in short
    assert "…" in short
    assert "[-shall-]{+must+}" in short


def test_context_keeps_neighbours():
    blocks = [para(f"({chr(97 + k)})", f"Paragraph number {k} of the text.") for k in range(10)]
    edited = list(blocks)
    edited[5] = para("(f)", "Paragraph number 5 of the revised section text.")
    text = render_text(diff_contents(doc(*blocks), doc(*edited)), context=1)
    assert blocks[4].text in text and blocks[6].text in text
    assert blocks[2].text not in text and blocks[8].text not in text
    assert text.count("…") == 2


EVIL = '<script>alert(1)</script> <img src=x onerror="alert(2)"> & more'


def test_html_escapes_every_text():
    plain = para("(a)", "Plain " + EVIL)
    moving = para("(e)", "Moving paragraph text that is long enough " + EVIL)
    kept = para("(d)", "Kept paragraph " + EVIL)
    kept_too = para("(f)", "Another kept paragraph.")
    old = doc(
        plain,
        para("(b)", "Edited paragraph with words to keep here."),
        para("(c)", "Gone " + EVIL),
        kept,
        kept_too,
        moving,
        title="Title " + EVIL,
    )
    new = doc(
        plain,
        moving,
        para("(b)", "Edited paragraph with <b>words</b> to keep " + EVIL),
        kept,
        kept_too,
        Block("Inserted " + EVIL, section='§ 9 "><script>'),
        title="Title changed " + EVIL,
    )
    redline = diff_contents(old, new)
    assert {"moved", "changed", "deleted", "inserted"} <= set(kinds(redline))
    for fragment in (render_html(redline), render_html(redline, context=0), excerpt_html(redline, max_chars=100_000)):
        assert "<script" not in fragment
        assert "<img" not in fragment and "<b>" not in fragment
        assert "&lt;script&gt;" in fragment
        assert 'onerror="' not in fragment
        assert "<html" not in fragment and "<body" not in fragment
    html_text = render_html(redline)
    assert '<del class="rl-del">' in html_text and '<ins class="rl-ins">' in html_text
    assert "rl-moved" in html_text and 'class="rl-section"' in html_text
    assert 'id="rl-744-23-a"' in html_text


def test_html_ids_are_unique():
    blocks = [Block(f"Intro text number {k} here.", section=SECTION) for k in range(3)]
    fragment = render_html(diff_contents(None, doc(*blocks)))
    assert fragment.count('id="rl-744-23"') == 1


def test_excerpts_show_only_changes_and_fit():
    new_a = para("(a)", BASE[0].text[4:].replace("shall", "shall not"))
    blocks = [para(f"({chr(97 + k)})", "Long unchanged text. " * 40) for k in range(5)]
    old = doc(BASE[0], *blocks)
    new = doc(new_a, *blocks)
    redline = diff_contents(old, new)
    short = excerpt(redline)
    assert "{+not +}" in short and "Long unchanged" not in short
    assert short.startswith("§ 744.23(a):")
    for size in (20, 50, 120, 600):
        assert len(excerpt(redline, size)) <= size
        assert len(excerpt_html(redline, size * 4)) <= size * 4

    long_para = para("(a)", "word " * 300 + "shall apply " + "word " * 300)
    changed = para("(a)", "word " * 300 + "shall not apply " + "word " * 300)
    clipped = excerpt(diff_contents(doc(long_para), doc(changed)), 10_000)
    assert "{+not +}" in clipped and len(clipped) < 400 and "…" in clipped


def test_diff_words():
    ops = diff_words("may export", "must export", "§ 1")
    assert [(op.op, op.text) for op in ops] == [
        ("delete", "may"),
        ("insert", "must"),
        ("equal", " export"),
    ]
    assert all(op.section == "§ 1" for op in ops)


def test_words_keep_contractions_hyphens_and_eccn_dots_whole():
    assert words_of("You can't re-export 5A992.c (EAR99), § 744.23.") == [
        "You",
        "can't",
        "re-export",
        "5A992.c",
        "EAR99",
        "744.23",
    ]
    assert same_words("Shall not, apply.", "shall not apply")
    assert not same_words("shall not apply", "shall apply")


def test_big_document_rebuilds():
    rng = random.Random(3)
    words = [
        "license",
        "export",
        "item",
        "shall",
        "may",
        "must",
        "not",
        "entity",
        "country",
        "group",
        "end",
        "use",
        "review",
    ]

    def text(k: int) -> str:
        return f"({k}) " + " ".join(rng.choice(words) for _ in range(rng.randrange(8, 40))) + "."

    blocks = [Block(text(k), label=f"({k})", section=f"§ 744.{k // 20}({k})") for k in range(2000)]
    new_blocks = list(blocks)
    for k in rng.sample(range(2000), 200):
        block = new_blocks[k]
        tokens = block.text.split(" ")
        tokens.insert(rng.randrange(1, len(tokens)), rng.choice(words))
        new_blocks[k] = Block(" ".join(tokens), label=block.label, section=block.section)
    del new_blocks[100:103]
    new_blocks.insert(1500, Block("A new paragraph inserted here for testing.", section="§ 744.75"))
    old, new = Content("Big", tuple(blocks)), Content("Big", tuple(new_blocks))
    redline = diff_contents(old, new)
    assert_rebuilds(old, new)
    assert kinds(redline).count("changed") >= 190
    assert kinds(redline).count("deleted") + kinds(redline).count("moved") >= 3


# -- the reconstruct property -------------------------------------------------------

POOL = [
    "(a) A license shall be required for exports.",
    "(a) A license shall not be required for exports.",
    "(b) License applications will be reviewed case by case.",
    "(b) License applications will be reviewed with a presumption of denial.",
    "(c) Nothing in this section relieves the exporter of other duties.",
    "[Reserved]",
    "",
    "x",
    "one two three four five six",
    "one two three four five seven",
]

texts = st.one_of(st.sampled_from(POOL), st.text(max_size=30))


def block_of(text: str, section: str) -> Block:
    return Block(text, label=text[:3] if text.startswith("(") else "", section=section)


blocks = st.builds(
    block_of,
    texts,
    st.sampled_from(["", "§ 1", "§ 1(a)", "§ 2(b)"]),
)
contents = st.builds(
    lambda title, items: Content(title, tuple(items)),
    st.sampled_from(["", "A title", "Another title"]),
    st.lists(blocks, max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(old=st.one_of(st.none(), contents), new=contents)
def test_ops_rebuild_old_and_new_text(old, new):
    redline = diff_contents(old, new)
    ops = redline_ops_json(redline)
    old_text, new_text = sides(ops)
    assert old_text == (old.text() if old is not None else "")
    assert new_text == new.text()

    # moves come in pairs, and every hunk's ops rebuild its own blocks
    moves = [hunk.ops[0] for hunk in redline.hunks if hunk.kind == "moved"]
    from_ids = [op.move_id for op in moves if op.move == "from"]
    to_ids = [op.move_id for op in moves if op.move == "to"]
    assert all(op.move for op in moves)
    assert all(op.move_id in from_ids for op in redline_ops(redline) if op.move)
    assert sorted(from_ids) == sorted(to_ids) == sorted(set(from_ids))
    for hunk in redline.hunks:
        if hunk.kind in ("equal", "changed"):
            assert "".join(op.text for op in hunk.ops if op.op != "insert") == hunk.old.text
            assert "".join(op.text for op in hunk.ops if op.op != "delete") == hunk.new.text
    render_text(redline)
    render_html(redline, context=1)
    assert len(excerpt(redline, 80)) <= 80


def test_a_long_redline_collapses_unchanged_paragraphs_with_their_count():
    blocks = [para(f"({k})", f"Paragraph number {k} of a long regulation.") for k in range(100)]
    edited = list(blocks)
    edited[50] = para("(50)", "Paragraph number 50 of a long, revised regulation.")
    redline = diff_contents(doc(*blocks), doc(*edited))
    assert default_context(redline) == 2
    text = render_text(redline, default_context(redline))
    [changed] = [k for k, hunk in enumerate(redline.hunks) if hunk.kind != "equal"]
    before, after = changed - 2, len(redline.hunks) - changed - 3
    assert f"… {before} unchanged paragraphs" in text and f"… {after} unchanged paragraphs" in text
    assert blocks[48].text in text and blocks[52].text in text and blocks[47].text not in text
    html = render_html(redline, default_context(redline))
    assert f"… {before} unchanged paragraphs" in html and blocks[10].text not in html
    short = diff_contents(doc(*blocks[:10]), doc(*blocks[:9], para("(9)", "Paragraph nine, revised.")))
    assert default_context(short) is None  # a short redline is shown whole
