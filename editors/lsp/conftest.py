"""A real LSP client (pytest-lsp) driving `deployc lsp` over its stdio.

Each test gets a copy of the repository's examples in a temporary directory (edits,
`deployc.toml` changes and saves never touch the checkout) and a client that speaks to a
fresh server process.
"""

import asyncio
import os
import pathlib
import shutil

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOYC = os.environ.get("DEPLOYC", str(ROOT / "target" / "debug" / "deployc"))


@pytest.fixture
def workspace(tmp_path):
    """The examples, copied; a `.git` marks the project root for imports."""
    dest = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", dest, ignore=shutil.ignore_patterns(".deployc", "*.db"))
    (tmp_path / ".git").mkdir()
    return dest


class Session:
    """Opens documents, applies edits and waits for the diagnostics of a given version."""

    def __init__(self, client: LanguageClient):
        self.client = client
        self.published: list[types.PublishDiagnosticsParams] = []
        self.changed = asyncio.Condition()
        self.registrations: list[types.Registration] = []
        self.versions: dict[str, int] = {}

    async def record(self, params: types.PublishDiagnosticsParams):
        async with self.changed:
            self.published.append(params)
            self.changed.notify_all()

    async def diagnostics(self, uri: str, version: int | None = None, timeout: float = 10):
        """The first diagnostics published for `uri` at `version` (any version if None)."""

        def found():
            for p in self.published:
                if p.uri == uri and (version is None or p.version == version):
                    return p
            return None

        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(found), timeout)
            return found().diagnostics

    async def open(self, path: pathlib.Path, text: str | None = None):
        uri = path.as_uri()
        if text is None:
            text = path.read_text()
        self.versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="deploy", version=1, text=text
                )
            )
        )
        return uri, await self.diagnostics(uri, 1)

    async def edit(self, uri: str, start, end, new_text: str):
        """Replaces the range (line, character) .. (line, character) and waits for the
        diagnostics of the new version."""
        self.versions[uri] += 1
        version = self.versions[uri]
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(
                            start=types.Position(*start), end=types.Position(*end)
                        ),
                        text=new_text,
                    )
                ],
            )
        )
        return await self.diagnostics(uri, version)

    async def apply(self, uri: str, edits: list[types.TextEdit]):
        """Applies a server's text edits (last first, so ranges stay valid)."""
        result = []
        for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
            result = await self.edit(
                uri,
                (e.range.start.line, e.range.start.character),
                (e.range.end.line, e.range.end.character),
                e.new_text,
            )
        return result


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[DEPLOYC, "lsp"]))
async def client(lsp_client: LanguageClient):
    session = Session(lsp_client)
    lsp_client.session = session
    features = lsp_client.protocol.fm.features
    original = features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    async def on_publish(params):
        original(params)
        await session.record(params)

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = on_publish

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def on_register(params: types.RegistrationParams):
        session.registrations.extend(params.registrations)
        return None

    params = types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        initialization_options={"debounceMs": 5},
    )
    session.initialize_result = await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def lsp(client) -> Session:
    """The session of a client connected to a fresh `deployc lsp`."""
    return client.session


def position_of(text: str, needle: str, nth: int = 0, delta: int = 0) -> types.Position:
    """The position of the `nth` occurrence of `needle` in `text` (plus `delta` characters),
    in UTF-16 units."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    index += delta
    line = text.count("\n", 0, index)
    line_start = text.rfind("\n", 0, index) + 1
    character = len(text[line_start:index].encode("utf-16-le")) // 2
    return types.Position(line=line, character=character)
