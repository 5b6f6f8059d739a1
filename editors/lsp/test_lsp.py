"""`deployc lsp` under a real client, on the repository's examples."""

import asyncio
import pathlib

from lsprotocol import types

from conftest import position_of

DOCS = "https://github.com/deployc/deployc/blob/main/docs"


def doc(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


# An index built without `CONCURRENTLY` on a live PostgreSQL table: a finding with a
# mechanical fix (sql/require-concurrent-index-creation).
INDEX = """import std.comms
service api { health = http "http://localhost/health" }
environment production {
  provider = local { command = "app --port {port}" }
  database = postgres env DATABASE_URL
}
channel ops = stdout
release "1.0.0" {
  strategy = flags_only
  migrations {
    index by_email {
      up   = sql "CREATE INDEX users_by_email ON users (email)"
      down = sql "DROP INDEX CONCURRENTLY users_by_email"
    }
  }
  comms {
    at T-0      notify ops std.comms.starting
    on rollback notify ops std.comms.rolling_back
  }
}
"""


async def open_index(lsp, workspace):
    path = workspace / "index.deploy"
    path.write_text(INDEX)
    uri, diags = await lsp.open(path)
    finding = next(d for d in diags if d.code == "sql/require-concurrent-index-creation")
    return uri, diags, finding


async def test_initialize_announces_every_feature(lsp):
    caps = lsp.initialize_result.capabilities
    assert caps.position_encoding == types.PositionEncodingKind.Utf16
    assert caps.hover_provider and caps.definition_provider and caps.references_provider
    assert caps.completion_provider is not None
    assert caps.document_symbol_provider and caps.folding_range_provider
    assert caps.semantic_tokens_provider is not None
    assert caps.code_action_provider and caps.document_formatting_provider
    # The client can watch files: the server asks it to report configuration changes (right
    # after the handshake).
    for _ in range(100):
        if lsp.registrations:
            break
        await asyncio.sleep(0.05)
    globs = [w["globPattern"] for r in lsp.registrations for w in r.register_options["watchers"]]
    assert "**/deployc.toml" in globs


async def test_a_clean_example_has_no_errors(lsp, workspace):
    _, diags = await lsp.open(workspace / "quickstart.deploy")
    assert [d for d in diags if d.severity == types.DiagnosticSeverity.Error] == []


async def test_diagnostics_carry_code_link_help_and_related_locations(lsp, workspace):
    path = workspace / "checkout.deploy"
    text = path.read_text()
    # A typo in a metric name (E201, with a suggestion) and a channel defined twice (E202).
    text = text.replace("auto   when error_rate > 5%", "auto   when eror_rate > 5%")
    text += '\nchannel releases = stdout\n'
    uri, diags = await lsp.open(path, text)
    by_code = {d.code: d for d in diags}
    unknown = by_code["E201"]
    assert unknown.range.start == position_of(text, "eror_rate")
    assert unknown.range.end == position_of(text, "eror_rate", delta=len("eror_rate"))
    assert "help: did you mean `error_rate`?" in unknown.message
    assert unknown.code_description.href == f"{DOCS}/errors.md#e201"
    assert unknown.source == "deployc"
    duplicate = next(d for d in diags if d.related_information)
    related = duplicate.related_information[0]
    assert related.location.uri == uri
    assert related.location.range.start == position_of(text, "releases")
    assert related.message == "first defined here"


async def test_lint_findings_link_to_their_rule_page(lsp, workspace):
    _, _, finding = await open_index(lsp, workspace)
    assert finding.code_description.href == f"{DOCS}/rules/sql-require-concurrent-index-creation.md"
    assert finding.range.start == position_of(INDEX, "CREATE INDEX")
    assert finding.severity in (types.DiagnosticSeverity.Warning, types.DiagnosticSeverity.Error)


async def test_an_edit_that_breaks_the_syntax_keeps_features_on_the_last_good_parse(lsp, workspace):
    path = workspace / "checkout.deploy"
    text = path.read_text()
    uri, diags = await lsp.open(path)
    assert not [d for d in diags if d.severity == types.DiagnosticSeverity.Error]
    # Break it: an unclosed block in the service.
    line = text.splitlines().index("service checkout {")
    diags = await lsp.edit(uri, (line, 18), (line, 18), " {")
    errors = [d for d in diags if d.severity == types.DiagnosticSeverity.Error]
    assert len(errors) == 1 and errors[0].code.startswith("E1"), errors
    # Hover, definition and the outline still answer, from the last good parse.
    hover = await lsp.client.text_document_hover_async(
        types.HoverParams(text_document=doc(uri), position=position_of(text, "error_rate < 1%"))
    )
    assert "std/http.deploy" in hover.contents.value
    found = await lsp.client.text_document_definition_async(
        types.DefinitionParams(text_document=doc(uri), position=position_of(text, "lead timeout"))
    )
    assert found.range.start == position_of(text, "lead              =")
    symbols = await lsp.client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=doc(uri))
    )
    assert "release 2.1.0" in [s.name for s in symbols]
    # Repair it: the error goes away.
    diags = await lsp.edit(uri, (line, 18), (line, 20), "")
    assert not [d for d in diags if d.severity == types.DiagnosticSeverity.Error]


async def test_hover_shows_type_unit_and_docs(lsp, workspace):
    path = workspace / "checkout.deploy"
    text = path.read_text()
    uri, _ = await lsp.open(path)

    async def hover(needle, nth=0):
        h = await lsp.client.text_document_hover_async(
            types.HoverParams(text_document=doc(uri), position=position_of(text, needle, nth))
        )
        return h.contents.value

    signups = await hover("signups < 80%")
    assert 'metric signups: rate = prometheus' in signups
    assert "a rate per hour" in signups
    latency = await hover("latency_p95 < 500ms")
    assert "a duration" in latency and "defined in `<stdlib>/std/http.deploy`" in latency
    done = await hover("std.comms.done")
    assert "Sent when the deployment and its monitoring finished." in done
    lead = await hover("lead timeout")
    assert 'lead              = "dana@example.com"' in lead


async def test_hover_on_a_finding_explains_its_rule(lsp, workspace):
    uri, _, _ = await open_index(lsp, workspace)
    h = await lsp.client.text_document_hover_async(
        types.HoverParams(text_document=doc(uri), position=position_of(INDEX, "CREATE INDEX", delta=3))
    )
    assert "sql/require-concurrent-index-creation" in h.contents.value
    assert "CONCURRENTLY" in h.contents.value


async def definition(lsp, uri, text, needle, nth=0, delta=0):
    return await lsp.client.text_document_definition_async(
        types.DefinitionParams(text_document=doc(uri), position=position_of(text, needle, nth, delta))
    )


async def references(lsp, uri, text, needle, nth=0):
    found = await lsp.client.text_document_references_async(
        types.ReferenceParams(
            text_document=doc(uri),
            position=position_of(text, needle, nth),
            context=types.ReferenceContext(include_declaration=True),
        )
    )
    return sorted((r.range.start.line, r.range.start.character) for r in found)


async def test_definition_and_references_of_every_kind_of_name(lsp, workspace):
    path = workspace / "checkout.deploy"
    text = path.read_text()
    uri, _ = await lsp.open(path)

    def at(needle, nth=0):
        p = position_of(text, needle, nth)
        return (p.line, p.character)

    # environment
    d = await definition(lsp, uri, text, "requires = staging", delta=len("requires = "))
    assert (d.range.start.line, d.range.start.character) == at("staging {")
    # role: defined in the team, used by the approval and rollback_decision
    assert await references(lsp, uri, text, "lead timeout") == sorted(
        [at("lead              ="), at("lead timeout"), at("lead, on_call")]
    )
    # channel, used in comms and as an argument of a named comms block
    refs = await references(lsp, uri, text, "stakeholders = email")
    assert at("stakeholders)") in refs and len(refs) == 6
    # metric
    assert await references(lsp, uri, text, "signups: rate") == sorted(
        [at("signups: rate"), at("signups < 80%")]
    )
    # migration across releases: `of` in 2.2.0 names the expand of 2.1.0
    d = await definition(lsp, uri, text, "add_email_address {", 1)
    assert d is None or (d.range.start.line, d.range.start.character) == at("add_email_address {")
    d = await definition(lsp, uri, text, "email of add_email_address", delta=9)
    assert d.uri == uri
    assert (d.range.start.line, d.range.start.character) == at("add_email_address {")
    # named rollback and comms in the stdlib; the import's target
    d = await definition(lsp, uri, text, "std.rollback.standard")
    assert d.uri.endswith("/std/rollback.deploy")
    stdlib = pathlib.Path(d.uri.removeprefix("file://")).read_text()
    assert stdlib.splitlines()[d.range.start.line].startswith("rollback standard")
    d = await definition(lsp, uri, text, "import std.comms")
    assert d.uri.endswith("/std/comms.deploy") and d.range.start.line == 0


async def test_named_blocks_and_their_parameters(lsp, workspace):
    path = workspace / "blocks.deploy"
    text = (
        "import std.http\n"
        "team { lead = \"a@example.com\" }\n"
        "channel ops = stdout\n"
        "strategy careful = canary { step 10% for 10m require error_rate < 1%\n step 100% }\n"
        "rollback guarded(m: metric) { auto when m > 5% }\n"
        "checklist ready(owner: role) { confirm \"ready\" by owner }\n"
        "comms tell(to: channel) { on done notify to \"done\" }\n"
        "service s { health = http \"http://localhost/health\" }\n"
        "release \"1.0.0\" {\n"
        "  strategy = careful\n"
        "  rollback = guarded(error_rate)\n"
        "  checklist = ready(lead)\n"
        "  comms = tell(ops)\n"
        "}\n"
    )
    path.write_text(text)
    uri, _ = await lsp.open(path)
    for use, definition_at in [
        ("careful\n", "careful ="),
        ("guarded(error", "guarded(m"),
        ("ready(lead", "ready(owner"),
        ("tell(ops", "tell(to"),
        ("m > 5%", "m: metric"),
        ("owner }", "owner: role"),
        ("ops)", "ops ="),
        ("lead)", "lead ="),
    ]:
        d = await definition(lsp, uri, text, use)
        expected = position_of(text, definition_at)
        assert d is not None, use
        assert d.range.start == expected, use
    d = await definition(lsp, uri, text, "error_rate)")
    assert d.uri.endswith("/std/http.deploy")


async def test_completion(lsp, workspace):
    path = workspace / "checkout.deploy"
    text = path.read_text()
    uri, _ = await lsp.open(path)

    async def labels(line, character):
        result = await lsp.client.text_document_completion_async(
            types.CompletionParams(
                text_document=doc(uri), position=types.Position(line=line, character=character)
            )
        )
        items = result.items if hasattr(result, "items") else result
        return [i.label for i in items]

    lines = text.splitlines()
    # keywords of a release, at the start of an empty line inside it
    row = lines.index("  monitor 1h then checkins +4h, +24h, +48h")
    await lsp.edit(uri, (row, 0), (row, 0), "  \n")
    got = await labels(row, 2)
    assert {"migrations", "rollback", "comms", "monitor", "flag"} <= set(got)
    # metric names after `when`
    await lsp.edit(uri, (row, 2), (row, 2), "rollback { auto when  }")
    got = await labels(row, 23)
    assert {"error_rate", "latency_p95", "signups"} <= set(got)
    # units after a number compared with a duration metric
    await lsp.edit(uri, (row, 23), (row, 23), "latency_p95 > 3")
    got = await labels(row, 38)
    assert got[:4] == ["3ms", "3s", "3m", "3h"]
    # channels after `notify`, placeholders in a message
    await lsp.edit(uri, (row, 0), (row, 40), '  comms { at T-0 notify  }')
    got = await labels(row, 25)
    assert {"releases", "stakeholders", "status_page"} <= set(got)
    await lsp.edit(uri, (row, 25), (row, 25), 'releases "{ver')
    got = await labels(row, 39)
    assert "{version}" in got and "{previous_version}" in got


async def test_outline_folding_and_semantic_tokens(lsp, workspace):
    path = workspace / "checkout.deploy"
    text = path.read_text()
    uri, _ = await lsp.open(path)
    symbols = await lsp.client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=doc(uri))
    )
    names = [s.name for s in symbols]
    assert names[:3] == ["std.http", "std.comms", "checkout"]
    assert {"staging", "production", "release 2.1.0", "release 2.2.0"} <= set(names)
    release = next(s for s in symbols if s.name == "release 2.1.0")
    assert [c.name for c in release.children] == [
        "add_email_address",
        "backfill_email_address",
        "idx_users_email_address",
        "oauth_authentication",
    ]
    folds = await lsp.client.text_document_folding_range_async(
        types.FoldingRangeParams(text_document=doc(uri))
    )
    start = text.splitlines().index('release "2.1.0" {')
    assert any(f.start_line == start for f in folds)
    tokens = await lsp.client.text_document_semantic_tokens_full_async(
        types.SemanticTokensParams(text_document=doc(uri))
    )
    legend = lsp.initialize_result.capabilities.semantic_tokens_provider.legend
    decoded = {}
    line = col = 0
    data = tokens.data
    for i in range(0, len(data), 5):
        dl, dc, length, kind, _ = data[i : i + 5]
        line += dl
        col = col + dc if dl == 0 else dc
        decoded[(line, col)] = (length, legend.token_types[kind])
    p = position_of(text, "signups < 80%")
    assert decoded[(p.line, p.character)] == (len("signups"), "property")
    p = position_of(text, "release \"2.1.0\"")
    assert decoded[(p.line, p.character)] == (len("release"), "keyword")
    p = position_of(text, "10m require")
    assert decoded[(p.line, p.character)] == (3, "number")


async def test_code_action_suppresses_a_finding_with_a_reason_to_fill_in(lsp, workspace):
    uri, _, finding = await open_index(lsp, workspace)
    actions = await lsp.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=doc(uri),
            range=finding.range,
            context=types.CodeActionContext(diagnostics=[finding]),
        )
    )
    titles = [a.title for a in actions]
    suppress = next(a for a in actions if a.title.startswith("Suppress sql/require-concurrent-index-creation"))
    edit = suppress.edit.changes[uri]
    assert '# deployc: allow(sql/require-concurrent-index-creation) "TODO:' in edit[0].new_text
    diags = await lsp.apply(uri, edit)
    codes = [d.code for d in diags]
    assert "sql/require-concurrent-index-creation" not in codes, codes
    assert "L002" not in codes, codes
    assert "Build the index `CONCURRENTLY`" in titles


async def test_code_action_adds_concurrently(lsp, workspace):
    uri, _, finding = await open_index(lsp, workspace)
    actions = await lsp.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=doc(uri), range=finding.range, context=types.CodeActionContext(diagnostics=[finding])
        )
    )
    fix = next(a for a in actions if a.title == "Build the index `CONCURRENTLY`")
    diags = await lsp.apply(uri, fix.edit.changes[uri])
    assert "sql/require-concurrent-index-creation" not in [d.code for d in diags]
    assert fix.edit.changes[uri][0].new_text == " CONCURRENTLY"
    assert fix.edit.changes[uri][0].range.start == position_of(INDEX, " users_by_email ON")


async def test_code_action_takes_the_suggested_name(lsp, workspace):
    path = workspace / "checkout.deploy"
    text = path.read_text().replace("auto   when error_rate > 5%", "auto   when eror_rate > 5%")
    uri, diags = await lsp.open(path, text)
    unknown = next(d for d in diags if d.code == "E201")
    actions = await lsp.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=doc(uri), range=unknown.range, context=types.CodeActionContext(diagnostics=[unknown])
        )
    )
    fix = next(a for a in actions if a.title == "Change to `error_rate`")
    diags = await lsp.apply(uri, fix.edit.changes[uri])
    assert not [d for d in diags if d.severity == types.DiagnosticSeverity.Error]


async def test_configuration_changes_are_picked_up(lsp, workspace):
    uri, _, _ = await open_index(lsp, workspace)
    config = workspace / "deployc.toml"
    config.write_text('[rules]\n"sql/require-concurrent-index-creation" = "allow"\n')
    lsp.published.clear()
    lsp.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=config.as_uri(), type=types.FileChangeType.Created)]
        )
    )
    diags = await lsp.diagnostics(uri)
    assert "sql/require-concurrent-index-creation" not in [d.code for d in diags]


async def test_formatting_goes_through_deployc_fmt(lsp, workspace):
    path = workspace / "messy.deploy"
    messy = path.parent.joinpath("quickstart.deploy").read_text().replace(
        "channel terminal = stdout", "channel   terminal=stdout"
    )
    uri, _ = await lsp.open(path, messy)
    options = types.FormattingOptions(tab_size=2, insert_spaces=True)
    edits = await lsp.client.text_document_formatting_async(
        types.DocumentFormattingParams(text_document=doc(uri), options=options)
    )
    # One edit, of the one line that changes: the rest of the document is left alone.
    assert len(edits) == 1
    assert edits[0].new_text == "channel terminal = stdout\n"
    assert edits[0].range.end.line == edits[0].range.start.line + 1
    assert edits[0].range.start.character == edits[0].range.end.character == 0
    await lsp.apply(uri, edits)
    # Formatted now: nothing more to do.
    again = await lsp.client.text_document_formatting_async(
        types.DocumentFormattingParams(text_document=doc(uri), options=options)
    )
    assert not again
    # A document that does not parse is left alone, and the request says why.
    await lsp.edit(uri, (0, 0), (0, 0), "release {\n")
    try:
        await lsp.client.text_document_formatting_async(
            types.DocumentFormattingParams(text_document=doc(uri), options=options)
        )
        raise AssertionError("formatting a file that does not parse succeeded")
    except Exception as e:  # pygls raises the server's error response
        assert "1:9: error[E1" in str(e), e


async def test_file_imports_navigate_and_follow_unsaved_edits(lsp, workspace):
    shared = workspace / "shared.deploy"
    shared_text = 'metric failures: percent = prometheus "sum(rate(failures[{window}]))"\n'
    shared.write_text(shared_text)
    main = workspace / "main.deploy"
    main_text = (
        'import "./shared.deploy" as shared\n'
        "rollback guard { auto when shared.failures > 5% }\n"
    )
    main.write_text(main_text)
    main_uri, diags = await lsp.open(main)
    assert not [d for d in diags if d.severity == types.DiagnosticSeverity.Error]
    shared_uri, _ = await lsp.open(shared)
    d = await definition(lsp, main_uri, main_text, "shared.failures")
    assert d.uri == shared_uri
    assert d.range.start == position_of(shared_text, "failures")
    d = await definition(lsp, main_uri, main_text, "import")
    assert d.uri == shared_uri and d.range.start.line == 0
    # Rename the metric in the open, unsaved import: the importer is checked again with it.
    lsp.published.clear()
    await lsp.edit(shared_uri, (0, 7), (0, 15), "errors")
    diags = await lsp.diagnostics(main_uri)
    assert [d.code for d in diags if d.severity == types.DiagnosticSeverity.Error] == ["E201"]


async def test_a_burst_of_keystrokes_is_checked_together(lsp, workspace):
    # Twenty keystrokes sent at once: the server applies those that arrived during a check
    # together, so the burst costs a few checks, and the last version is always checked.
    path = workspace / "quickstart.deploy"
    uri, _ = await lsp.open(path)
    typed = "# a comment typed at the end\n"
    first = lsp.versions[uri] + 1
    for i, ch in enumerate(typed[:20]):
        lsp.versions[uri] += 1
        lsp.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri, version=lsp.versions[uri]
                ),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(
                            start=types.Position(0, i), end=types.Position(0, i)
                        ),
                        text=ch,
                    )
                ],
            )
        )
    last = lsp.versions[uri]
    await lsp.diagnostics(uri, last)
    checked = [p.version for p in lsp.published if p.uri == uri and p.version >= first]
    assert checked[-1] == last
    assert len(checked) < 10, checked
