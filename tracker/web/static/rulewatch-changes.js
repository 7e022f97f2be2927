// Keys between the changes of a redline page: j or n for the next change, k or p for the
// previous one. The page works without this file: each change is an anchor (id="change-N",
// written by tracker/web/changenav.py) with its own previous/next links. This file adds the
// keys, and makes the "Previous change" / "Next change" links above the redline move from
// wherever the reader is, rather than to the last and the first change.
(function () {
  "use strict";

  var nav = document.querySelector(".rw-changenav");
  if (!nav) {
    return;
  }
  var steps = Array.prototype.slice.call(document.querySelectorAll(".rw-step"));
  if (steps.length === 0) {
    return;
  }
  var status = nav.querySelector(".rw-changenav__status");
  var keys = nav.querySelector(".rw-keys");
  if (keys) {
    keys.hidden = false;
  }

  // The change the reader is at: the last one whose anchor is above a line near the top of
  // the window (or the one named in the address, before any scrolling). -1 above the first.
  function current() {
    var line = Math.min(window.innerHeight / 3, 160);
    var at = -1;
    for (var i = 0; i < steps.length; i += 1) {
      if (steps[i].getBoundingClientRect().top <= line) {
        at = i;
      }
    }
    return at;
  }

  function go(index) {
    if (index < 0 || index >= steps.length) {
      return;
    }
    var step = steps[index];
    step.scrollIntoView({ block: "start" });
    step.focus({ preventScroll: true });
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", "#" + step.id);
    }
    if (status) {
      status.textContent = "Change " + (index + 1) + " of " + steps.length;
    }
  }

  function move(delta) {
    // The change last moved to, while it is still in view (near the end of the page it cannot
    // scroll up to the line); else wherever the reader scrolled to.
    var at = steps.indexOf(document.activeElement);
    var top = at === -1 ? -1 : steps[at].getBoundingClientRect().top;
    if (at === -1 || top < 0 || top > window.innerHeight) {
      at = current();
    }
    if (delta > 0) {
      go(at + 1);
    } else {
      go(at === -1 ? steps.length - 1 : at - 1);
    }
  }

  nav.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("[data-step]") : null;
    if (!link) {
      return;
    }
    event.preventDefault();
    move(Number(link.getAttribute("data-step")));
  });

  function typing(target) {
    if (!target || !target.tagName) {
      return false;
    }
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) {
      return;
    }
    if (event.key === "j" || event.key === "n") {
      event.preventDefault();
      move(1);
    } else if (event.key === "k" || event.key === "p") {
      event.preventDefault();
      move(-1);
    }
  });
})();
