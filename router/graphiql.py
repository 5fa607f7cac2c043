"""GraphiQL served by the router itself, with no internet access: its files are downloaded at
install time from the npm registry (pinned versions, checked against the registry's sha512
integrity) into a git-ignored folder. Run ``python -m router.graphiql`` to fetch them."""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import httpx

ASSETS = Path(__file__).parent / "graphiql_assets"
REGISTRY = "https://registry.npmjs.org"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str
    files: tuple[str, ...]  # paths inside the tarball; served under their base names

    @property
    def tarball(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name}-{self.version}.tgz"


PACKAGES = (
    Package(
        "react",
        "18.3.1",
        "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==",
        ("package/umd/react.production.min.js",),
    ),
    Package(
        "react-dom",
        "18.3.1",
        "sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==",
        ("package/umd/react-dom.production.min.js",),
    ),
    Package(
        "graphiql",
        "3.8.3",
        "sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw==",
        ("package/graphiql.min.js", "package/graphiql.min.css"),
    ),
)
SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js")


def installed() -> bool:
    return all((ASSETS / Path(f).name).is_file() for p in PACKAGES for f in p.files)


def _extract(package: Package, tarball: bytes) -> None:
    digest = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if f"sha512-{digest}" != package.integrity:
        raise RuntimeError(f"{package.name}@{package.version}: integrity check failed")
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for name in package.files:
            member = archive.extractfile(name)
            if member is None:
                raise RuntimeError(f"{package.name}@{package.version}: {name} missing")
            (ASSETS / Path(name).name).write_bytes(member.read())


def fetch() -> None:
    """Download and verify the pinned packages; nothing to do when they are already here."""
    if installed():
        return
    ASSETS.mkdir(exist_ok=True)
    with httpx.Client(timeout=60, follow_redirects=True) as client:
        for package in PACKAGES:
            response = client.get(package.tarball)
            response.raise_for_status()
            _extract(package, response.content)


def page(endpoint: str = "/graphql") -> str:
    """The GraphiQL page; its files come from ``/graphiql/`` on this router."""
    scripts = "\n".join(f'<script src="/graphiql/{name}"></script>' for name in SCRIPTS)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>VetrAI GraphiQL</title>
<link rel="stylesheet" href="/graphiql/graphiql.min.css">
<style>body {{ margin: 0; height: 100vh; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
{scripts}
<script>
const fetcher = GraphiQL.createFetcher({{ url: new URL("{endpoint}", location.href).href }});
ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {{ fetcher, defaultEditorToolsVisibility: true }})
);
</script>
</body>
</html>
"""


if __name__ == "__main__":
    fetch()
    print("GraphiQL files are installed", file=sys.stderr)
