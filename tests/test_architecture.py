"""The shape of the code, checked: the layers the README states are the ones import-linter
enforces (.importlinter), no module imports itself through others, no file outside migrations
is over 500 lines and no function over 60, and the README's layout lists every package."""

import ast
import configparser
import re
from pathlib import Path

import grimp
import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SKIP_DIRS = {
    ".venv",
    ".data",
    "node_modules",
    "migrations",
    "djstripe_migrations",
    "artifacts",
    "static",
    "templates",
    ".git",
}
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60


def _python_files():
    for path in sorted(ROOT.rglob("*.py")):
        if not SKIP_DIRS.intersection(path.relative_to(ROOT).parts):
            yield path


def _contract():
    parser = configparser.ConfigParser()
    parser.read(ROOT / ".importlinter")
    packages = parser["importlinter"]["root_packages"].split()
    layers = [
        line.strip()
        for line in parser["importlinter:contract:layers"]["layers"].split("\n")
        if line.strip()
    ]
    return packages, layers


def _top_level_packages() -> set[str]:
    return {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in SKIP_DIRS | {"tests", "e2e", "bench"}
    }


def test_every_package_is_in_a_layer():
    packages, layers = _contract()
    layered = {name.strip() for layer in layers for name in layer.split("|")}
    assert set(packages) == layered
    assert _top_level_packages() == layered


def _strongly_connected(graph, modules):
    """Tarjan's algorithm, iterative: the groups of modules that reach each other."""
    index, low, on_stack, stack, groups, counter = {}, {}, set(), [], [], [0]
    for start in modules:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start) & modules)))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on_stack.add(child)
                work.append(
                    (child, iter(sorted(graph.find_modules_directly_imported_by(child) & modules)))
                )
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return groups


def test_no_module_imports_itself_through_others():
    packages, _ = _contract()
    graph = grimp.build_graph(
        *packages, include_external_packages=False, exclude_type_checking_imports=True
    )
    modules = {module for module in graph.modules if ".migrations" not in module}
    assert _strongly_connected(graph, modules) == []


def test_no_file_is_over_the_limit():
    over = {
        str(path.relative_to(ROOT)): lines
        for path in _python_files()
        if (lines := len(path.read_text().splitlines())) > MAX_FILE_LINES
    }
    assert over == {}


def test_no_function_is_over_the_limit():
    over = {}
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    over[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = lines
    assert over == {}


def _readme_layout() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_states_the_layers_in_the_contract_order():
    _, layers = _contract()
    section = _readme_layout()
    stated = re.findall(r"^\d+\.\s+`([^`]+)`\s+—", section, flags=re.MULTILINE)
    assert [re.sub(r"[`\s]", "", layer) for layer in stated] == [
        layer.replace(" ", "") for layer in layers
    ]


@pytest.mark.parametrize("package", sorted(_top_level_packages() | {"tests", "e2e", "bench"}))
def test_the_readme_layout_names_every_package(package):
    section = _readme_layout()
    assert f"`{package}/`" in section or re.search(
        rf"^\d+\. `[^`]*\b{package}\b[^`]*` —", section, flags=re.MULTILINE
    )


def test_every_function_local_import_says_why():
    """An import inside a function hides which way a module depends; the few that avoid a cycle
    or a start-up cost say which, on the line (``# noqa: PLC0415 - <reason>``)."""
    unexplained = []
    for path in _python_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = re.search(r"#\s*noqa:[^#]*PLC0415(.*)$", line)
            if match and len(match.group(1).strip(" -—:,")) < 10:
                unexplained.append(f"{path.relative_to(ROOT)}:{number}")
    assert unexplained == []


def test_the_readme_lists_every_management_command():
    """The operators' table names every command the project defines."""
    text = (ROOT / "README.md").read_text()
    table = text.split("\n## Operators\n", 1)[1].split("\n## ", 1)[0]
    commands = {
        path.stem
        for path in ROOT.glob("**/management/commands/*.py")
        if not SKIP_DIRS.intersection(path.relative_to(ROOT).parts[:-3]) and path.stem != "__init__"
    }
    assert commands
    assert {name for name in commands if f"`manage.py {name}" not in table} == set()


def test_the_readme_names_every_environment_variable_the_code_reads():
    pattern = re.compile(
        r"(?:env(?:\.[a-z_]+)?\(|os\.environ\.get\(|getenv\(|ENVIRON\.setdefault\()\s*\"([A-Z][A-Z0-9_]+)\""
    )
    read = {
        name
        for path in _python_files()
        if not {"tests", "e2e", "bench"}.intersection(path.relative_to(ROOT).parts)
        for name in pattern.findall(path.read_text())
    }
    readme = (ROOT / "README.md").read_text()
    assert "DATABASE_URL" in read
    assert {name for name in read if not re.search(rf"`[^`]*\b{name}\b[^`]*`", readme)} == set()


def test_comments_and_docs_speak_of_the_product_not_of_work_tracking():
    tracker = re.compile(r"\bissue #?\d+\b|\bBilling II\b|\bTODO\b|\bFIXME\b", re.I)
    texts = [*_python_files(), ROOT / "README.md", *ROOT.glob("templates/**/*.html")]
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in texts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if tracker.search(line) and path.name != "test_architecture.py"
    ]
    assert found == []
