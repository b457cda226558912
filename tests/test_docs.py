"""The repository's documents stand on their own: every setting the code reads is in the
deployment guide, and nothing points at documents or issues a clone does not have."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENT = (ROOT / "docs" / "deployment.md").read_text()

# env_str("NAME", ...), env_bool(\n    "NAME", ...), os.environ.get("NAME"), ${NAME:-...}
_READ = re.compile(r'(?:env_\w+\(\s*|environ(?:\.get)?\(\s*|environ\[)"([A-Z][A-Z0-9_]+)"')
_SHELL = re.compile(r"\$\{?([A-Z][A-Z0-9_]+)")
# PIXDASH_API_KEY appears only in the client snippets the dashboard shows.
_IGNORED = {"DJANGO_SETTINGS_MODULE", "PROMETHEUS_MULTIPROC_DIR", "MAINPID", "PIXDASH_API_KEY"}


def _variables_read() -> set[str]:
    names = set()
    for path in [
        *ROOT.glob("pixdash/**/*.py"),
        *ROOT.glob("generator/**/*.py"),
        *ROOT.glob("billing/**/*.py"),
        ROOT / "deploy" / "gunicorn.conf.py",
    ]:
        names |= set(_READ.findall(path.read_text()))
    for path in [ROOT / "Procfile", ROOT / "deploy" / "Procfile", *ROOT.glob("deploy/systemd/*")]:
        names |= set(_SHELL.findall(path.read_text()))
    return names - _IGNORED


def test_every_variable_the_code_reads_is_in_the_environment_reference():
    names = _variables_read()
    assert {"PIXDASH_DB_POOL_MAX", "PIXDASH_LOG_LEVEL", "PIXDASH_MEDIA_ROOT"} <= names
    missing = sorted(name for name in names if f"`{name}`" not in DEPLOYMENT)
    assert missing == []


def test_the_project_refers_only_to_what_it_contains():
    texts = [ROOT / "README.md", *ROOT.glob("docs/*.md")]
    for folder in ("pixdash", "generator", "billing", "tests", "bench", "templates", "deploy"):
        texts += [p for p in (ROOT / folder).rglob("*") if p.suffix in {".py", ".html", ".md"}]
    offenders = []
    for path in texts:
        text = path.read_text()
        if path.name == "test_docs.py":
            continue
        if "shared/docs" in text or re.search(r"\bissue #?\d", text, re.IGNORECASE):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_documents_the_readme_links_exist():
    readme = (ROOT / "README.md").read_text()
    for link in re.findall(r"\]\(((?:docs|deploy)/[^)#]+)", readme):
        assert (ROOT / link).exists(), link
