"""Diagrams of the workflow definitions (Graphviz, real `dot`), their pages, and the
organizers' vocabulary in the Indonesian catalogue."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from babel.messages.pofile import read_po
from flask_babel import force_locale
from flask_babel import gettext as _

from tests.factories import World
from tests.test_http_helpers import login
from workflow import create_app
from workflow.engine import registry
from workflow.engine.definitions import definition_files
from workflow.services import diagrams

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"
MISSING_DOT = "/nonexistent/graphviz/bin/dot"
SHIPPED = [
    (raw["key"], raw["version"])
    for raw in (
        yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in definition_files(ROOT / "state_machines")
    )
]


@pytest.fixture(scope="module")
def plain_app():
    """No database needed to draw: an app for its context (translations, registry)."""
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():
        yield app


@pytest.fixture(scope="module")
def dot(plain_app):
    found = shutil.which(diagrams.DEFAULT_DOT)
    assert found, "Graphviz's dot is missing: install Debian's package 'graphviz' (make test)"
    return found


def _nodes(svg: bytes) -> dict[str, ET.Element]:
    """The state nodes of a rendered diagram by state key."""
    root = ET.fromstring(svg)
    return {
        g.get("id").removeprefix("state-"): g
        for g in root.iter(f"{SVG}g")
        if (g.get("id") or "").startswith("state-")
    }


def _text(element: ET.Element) -> str:
    return " ".join(t.text or "" for t in element.iter(f"{SVG}text"))


def _edge_texts(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)
    return [_text(g) for g in root.iter(f"{SVG}g") if "edge" in (g.get("class") or "").split()]


def _assert_inert(svg: bytes) -> None:
    for element in ET.fromstring(svg).iter():
        tag = element.tag.removeprefix(SVG)
        assert tag not in {"script", "foreignObject", "iframe", "embed", "object"}, tag
        for name in element.attrib:
            local = name.rsplit("}", 1)[-1].lower()
            assert not local.startswith("on"), name
            assert local != "href", name


# ------------------------------------------------------------------ the SVG


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize(("key", "version"), SHIPPED)
def test_every_shipped_definition_is_drawn(dot, key, version, lang):
    definition = registry.get(key, version)
    svg = diagrams.render_svg(definition, lang, dot=dot)
    nodes = _nodes(svg)
    assert set(nodes) == {s.key for s in definition.states}
    for s in definition.states:
        assert _text(nodes[s.key]) == s.labels.get(lang), s.key
        classes = nodes[s.key].get("class").split()
        assert ("terminal" in classes) == s.terminal
        assert "current" not in classes
    _assert_inert(svg)
    # Every transition drawn, named by its action; activities are not.
    edges = " ".join(_edge_texts(svg))
    for t in definition.transitions:
        assert t.labels.get(lang).split()[0] in edges, t.trigger
    for a in definition.activities:
        if a.labels.get(lang) not in {t.labels.get(lang) for t in definition.transitions}:
            assert a.labels.get(lang) not in edges, a.key


@pytest.mark.parametrize(("key", "version"), SHIPPED)
def test_the_current_state_is_highlighted(dot, key, version):
    definition = registry.get(key, version)
    state = next(s for s in definition.states if s.key != definition.initial and not s.terminal)
    nodes = _nodes(diagrams.render_svg(definition, "id", state.key, dot=dot))
    current = [k for k, g in nodes.items() if "current" in g.get("class").split()]
    assert current == [state.key]
    shape = nodes[state.key].find(f".//{SVG}path")
    assert shape.get("fill") == diagrams.CURRENT_FILL
    assert {t.get("font-weight") for t in nodes[state.key].iter(f"{SVG}text")} == {"bold"}
    other = nodes[definition.initial]
    assert other.find(f".//{SVG}path").get("fill") != diagrams.CURRENT_FILL


def test_an_unknown_state_is_not_highlighted_but_refused(dot):
    with pytest.raises(KeyError):
        diagrams.render_svg(registry.latest("aksi_perubahan_pka"), "id", "nope", dot=dot)


@pytest.mark.parametrize(
    ("key", "trigger", "who"),
    [
        # approval: all -> every role named, marked as all of them.
        ("aksi_perubahan_pka", "approve", "Coach + Mentor (both)"),
        ("aksi_perubahan_pka", "ratify", "Examiner + Coach + Mentor (all)"),
        # one of them suffices
        ("aksi_perubahan_pka", "request_revision", "Coach / Mentor"),
        # the programme's own name for the role
        ("aksi_perubahan_pka", "endorse", "Executive (sponsor)"),
        ("aksi_perubahan_pkn2", "endorse", "Sponsor"),
        # no programme name: the generic one
        ("aksi_perubahan_pkp", "submit", "Trainee"),
    ],
)
def test_who_acts_on_each_edge(dot, key, trigger, who):
    definition = registry.latest(key)
    transition = next(t for t in definition.transitions if t.trigger == trigger)
    assert diagrams.who_acts(definition, transition, "en") == who
    edges = _edge_texts(diagrams.render_svg(definition, "en", dot=dot))
    label = transition.labels.get("en")
    assert any(text.startswith(label.split()[0]) and text.endswith(who) for text in edges), edges


def test_a_step_open_from_everywhere_is_drawn_once(dot):
    definition = registry.latest("aksi_perubahan_pka")
    svg = diagrams.render_svg(definition, "en", dot=dot)
    withdraw = [t for t in _edge_texts(svg) if t.startswith("Withdraw")]
    assert len(withdraw) == 1
    anywhere = diagrams.any_open_steps(definition, "en")
    assert [s.trigger for s in anywhere] == ["withdraw"]
    assert all(
        s.trigger != "withdraw" for row in diagrams.steps_of(definition, "en") for s in row.steps
    )


def test_rendered_once_per_definition_language_and_state(dot):
    definition = registry.latest("aksi_perubahan_pkp")
    diagrams.clear_cache()
    first = diagrams.render_svg(definition, "id", "implementation", dot=dot)
    again = diagrams.render_svg(definition, "id", "implementation", dot=dot)
    assert again is first
    info = diagrams._render.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    diagrams.render_svg(definition, "en", "implementation", dot=dot)
    diagrams.render_svg(definition, "id", None, dot=dot)
    assert diagrams._render.cache_info().misses == 3


def test_labels_cannot_inject_markup(plain_app, dot):
    # A label is data: quotes, angle brackets and backslashes are drawn as text.
    definition = registry.latest("aksi_perubahan_pka")
    state = definition.states[0]
    nasty = 'A <script>alert(1)</script> "q" \\N & <b>'
    patched = definition.model_copy(
        update={
            "states": (
                state.model_copy(update={"labels": state.labels.model_copy(update={"id": nasty})}),
                *definition.states[1:],
            )
        }
    )
    patched.model_post_init(None)
    svg = diagrams.build(patched, "id").pipe(format="svg")
    _assert_inert(svg)
    assert _text(_nodes(svg)[state.key]) == 'A <script>alert(1)</script> "q" \\N & <b>'


def test_without_dot_the_service_says_so(plain_app):
    definition = registry.latest("aksi_perubahan_pka")
    with pytest.raises(diagrams.DiagramUnavailable):
        diagrams.render_svg(definition, "id", dot=MISSING_DOT)


# ------------------------------------------------------------------ pages


def _svg_url(key="aksi_perubahan_pka", version=2, state=None):
    return f"/definitions/{key}/{version}.svg" + (f"?state={state}" if state else "")


@pytest.mark.parametrize(
    "url", ["/definitions", "/definitions/aksi_perubahan_pka", _svg_url(), _svg_url(state="draft")]
)
def test_pages_need_a_login(client, world, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    "url",
    [
        "/definitions/nope",
        "/definitions/aksi_perubahan_pka?version=99",
        "/definitions/aksi_perubahan_pka?version=two",
        "/definitions/aksi_perubahan_pka?version=%C2%B2",  # "²" is a digit to str.isdigit
        "/definitions/aksi_perubahan_pka?version=-1",
        _svg_url("nope", 1),
        _svg_url(version=99),
        _svg_url(state="nope"),
    ],
)
def test_unknown_definitions_versions_and_states_are_404(client, world, url):
    login(client, world.stranger)
    assert client.get(url).status_code == 404


def test_the_list_names_every_loaded_definition_and_version(client, world):
    login(client, world.stranger)  # any logged-in user may read the flows
    page = client.get("/definitions").get_data(as_text=True)
    for key, version in SHIPPED:
        assert f'href="/definitions/{key}?version={version}"' in page
        assert registry.latest(key).labels.get("id") in page


def test_a_definition_page_shows_the_diagram_and_the_table(client, world, dot):
    login(client, world.trainee)
    definition = registry.latest("aksi_perubahan_pka")
    response = client.get("/definitions/aksi_perubahan_pka")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'<img src="{_svg_url()}"' in page
    assert 'class="diagram-fallback"' not in page
    # The table: one row per transition from its state, the rest "from any open step".
    for t in definition.transitions:
        if len(t.sources) < diagrams.MANY_SOURCES:
            for source in t.sources:
                assert f'data-state="{source}" data-trigger="{t.trigger}"' in page
        else:
            assert f'data-state="any" data-trigger="{t.trigger}"' in page
    for key in definition.terminal_states:
        assert f'<tr data-state="{key}">' in page
    older = client.get("/definitions/aksi_perubahan_pka?version=1").get_data(as_text=True)
    assert f'<img src="{_svg_url(version=1)}"' in older


def test_the_svg_route(client, world, dot):
    login(client, world.coach)
    response = client.get(_svg_url(state="proposal_review"))
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    svg = response.get_data()
    _assert_inert(svg)
    nodes = _nodes(svg)
    assert "current" in nodes["proposal_review"].get("class").split()
    # Indonesian is the UI's language here.
    assert _text(nodes["proposal_review"]) == "Menunggu persetujuan coach dan mentor"
    again = client.get(
        _svg_url(state="proposal_review"), headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304


def test_without_graphviz_the_page_lists_the_flow(make_app):
    app = make_app(GRAPHVIZ_DOT=MISSING_DOT)
    with app.app_context():
        world = World(version=None)
        client = app.test_client()
        login(client, world.organizer)
        definition = registry.latest("aksi_perubahan_pka")
        response = client.get("/definitions/aksi_perubahan_pka")
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        missing = _in_indonesian(app, "Diagram unavailable: Graphviz is not installed")
        assert missing in page
        assert "<img" not in page.split('id="diagram-title"')[1].split("</section>")[0]
        fallback = page.split('<ol class="diagram-fallback">')[1].split("</ol>")[0]
        for s in definition.states:
            assert f'<li data-state="{s.key}"><strong>{s.labels.get("id")}</strong>' in fallback
        # The SVG route answers, without a 500.
        svg = client.get(_svg_url(state="draft"))
        assert svg.status_code == 503
        assert svg.mimetype == "text/plain"
        # The case page says so too, and keeps its link to the steps.
        case_page = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
        assert missing in case_page
        assert 'id="case-diagram"' in case_page


def _in_indonesian(app, msgid: str, **values) -> str:
    with app.test_request_context(), force_locale("id"):
        return _(msgid, **values)


# Cases keep the version they started on: the page says which one.
@pytest.mark.parametrize("version", [1, None])
def test_the_case_page_shows_the_flow_with_the_current_state(app, client, dot, version):
    world = World(version=version)
    login(client, world.organizer)
    case = world.case
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    diagram = page.split('id="case-diagram"')[1].split("</details>")[0]
    src = _svg_url(case.definition_key, case.definition_version, case.state)
    assert f'src="{src}"' in diagram
    assert _in_indonesian(app, "Version %(n)d", n=case.definition_version) in diagram
    svg = client.get(src)
    assert svg.status_code == 200
    assert "current" in _nodes(svg.get_data())[case.state].get("class").split()


# ------------------------------------------------------------------ vocabulary


@pytest.fixture(scope="module")
def catalog():
    with (ROOT / "translations/id/LC_MESSAGES/messages.po").open("rb") as f:
        return read_po(f, locale="id")


def _strings(message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


# Words organizers do not say, and what they say instead.
@pytest.mark.parametrize(
    ("word", "instead"),
    [
        ("kasus", "aksi perubahan / proyek perubahan / peserta"),
        ("laporan akhir", "Laporan Aksi Perubahan"),
    ],
)
def test_no_indonesian_string_uses_a_word_organizers_do_not_say(catalog, word, instead):
    found = [(m.id, s) for m in catalog if m.id for s in _strings(m) if word in (s or "").lower()]
    assert not found, f"say {instead!r} instead of {word!r}: {found}"


@pytest.mark.parametrize(
    ("msgid", "msgstr"),
    [
        ("Final report", "Laporan Aksi Perubahan"),
        ("Submit the final report", "Kirim Laporan Aksi Perubahan"),
        ("Internal", "Internal"),
        ("External", "Eksternal"),
        ("High", "Tinggi"),
        ("Low", "Rendah"),
    ],
)
def test_what_organizers_say(catalog, msgid, msgstr):
    assert catalog[msgid].string == msgstr
