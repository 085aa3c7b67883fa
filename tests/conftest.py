import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


# --- web layer fixtures: one real index of corpus/ per session, the real app over it ---
@pytest.fixture(scope="session")
def web_index_dir(tmp_path_factory):
    from indexer.build import build_index

    index_dir = tmp_path_factory.mktemp("web-index")
    build_index(REPO_ROOT / "corpus", index_dir)
    return index_dir


@pytest.fixture(scope="session")
def web_app(web_index_dir):
    from web.app import create_app

    return create_app({"INDEX_DIR": str(web_index_dir), "TESTING": True})


@pytest.fixture
def web_client(web_app):
    return web_app.test_client()
