"""Job logs: JSON, text and HTML, content negotiation, HEAD, suffix ranges, deletion, growth and retried attempts."""

import base64
from datetime import datetime
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).resolve().parents[1] / "buildkite_simulator" / "scenarios"
MESSY_BYTES = base64.b64decode((SCENARIOS / "logs" / "messy.log.b64").read_bytes())
WEB_300 = "/organizations/acme/pipelines/web/builds/300"
WEB_301 = "/organizations/acme/pipelines/web/builds/301"
NO_LOG_FOUND = {"message": "No log found"}
NOT_ACCEPTABLE = {"message": "Not Acceptable"}
TEXT_PLAIN = "text/plain; charset=utf-8"
TEXT_HTML = "text/html; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
# Milliseconds of the first timestamp marker in the scenario logs: 2026-01-01T00:00:00Z.
BASE_MILLISECONDS = 1_767_225_600_000


def log_path(job_id, suffix="log"):
    return f"/organizations/acme/jobs/{job_id}/{suffix}"


def test_log_json_has_documented_keys(api, log_aliases, running_simulator):
    job_id = log_aliases["small_log"]

    response = api.get(log_path(job_id))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON_TYPE
    body = response.json()
    assert set(body) == {"url", "content", "size", "header_times"}
    assert body["url"] == f"{running_simulator.url}{WEB_300}/jobs/{job_id}/log"


def test_log_json_content_and_size(api, log_aliases):
    raw = api.get(log_path(log_aliases["small_log"], "log.txt")).content

    body = api.get(log_path(log_aliases["small_log"])).json()

    assert body["content"] == raw.decode()
    assert body["size"] == len(raw)
    assert body["content"].startswith("\x1b_bk;t=1767225600000\x07--- :wave: Saying hello\n")
    assert "\x1b[32mhello\x1b[0m\n" in body["content"]


def test_log_json_replaces_invalid_utf8(api, log_aliases):
    body = api.get(log_path(log_aliases["messy_log"])).json()

    assert body["content"] == MESSY_BYTES.decode("utf-8", errors="replace")
    assert "Bytes from a legacy tool: \ufffd\ufffd then Latin-1 caf\ufffd\n" in body["content"]
    assert "A truncated euro sign: \ufffd\n" in body["content"]
    assert "🚀 café 日本\n" in body["content"]


def test_log_size_counts_stored_bytes(api, log_aliases):
    body = api.get(log_path(log_aliases["messy_log"])).json()

    assert body["size"] == len(MESSY_BYTES) == 1008
    assert len(body["content"]) < body["size"]


def test_log_header_times_from_markers(api, log_aliases):
    body = api.get(log_path(log_aliases["messy_log"])).json()

    # The ~~~, --- and +++ lines; "^^^ +++" reopens a section and is no header.
    assert body["header_times"] == [
        BASE_MILLISECONDS * 1_000_000,
        (BASE_MILLISECONDS + 1000) * 1_000_000,
        (BASE_MILLISECONDS + 2500) * 1_000_000,
    ]


def test_log_header_times_without_markers_follow_job_start(api, aliases):
    job = api.get(f"/organizations/acme/jobs/{aliases['canceled_build_job']}").json()

    body = api.get(log_path(aliases["canceled_build_job"])).json()

    # The default log has two section headers, both printed when the job started.
    started_at = datetime.fromisoformat(job["started_at"].replace("Z", "+00:00")).timestamp()
    assert len(body["header_times"]) == 2
    for header_time in body["header_times"]:
        assert abs(header_time / 1e9 - started_at) < 0.001


def test_default_log_names_command_and_outcome(api, aliases):
    response = api.get(log_path(aliases["canceled_build_failed_job"], "log.txt"))

    assert response.status_code == 200
    assert response.content == (
        b"~~~ Preparing working directory\n"
        b"$ cd /buildkite/builds/sim-agent-1/acme/web\n"
        b"$ git checkout -f 5d41402\n"
        b"--- Running commands\n"
        b"$ make lint\n"
        b"^^^ +++\n"
        b"\x1b[31m\xf0\x9f\x9a\xa8 Error: The command exited with status 1\x1b[0m\n"
    )


def test_log_txt_returns_stored_bytes(api, log_aliases):
    response = api.get(log_path(log_aliases["messy_log"], "log.txt"))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == TEXT_PLAIN
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.content == MESSY_BYTES


def test_log_accept_text_plain_returns_stored_bytes(api, log_aliases):
    response = api.get(log_path(log_aliases["messy_log"]), headers={"Accept": "text/plain"})

    assert response.status_code == 200
    assert response.headers["Content-Type"] == TEXT_PLAIN
    assert response.content == MESSY_BYTES


@pytest.mark.parametrize("suffix", ["log", "log.txt", "log.html"])
def test_log_build_route_matches_organization_route(api, log_aliases, suffix):
    job_id = log_aliases["messy_log"]

    by_build = api.get(f"{WEB_300}/jobs/{job_id}/{suffix}")
    by_organization = api.get(log_path(job_id, suffix))

    assert by_build.status_code == 200
    assert by_build.content == by_organization.content


def test_log_of_job_in_other_build_not_found(api, log_aliases):
    response = api.get(f"{WEB_301}/jobs/{log_aliases['messy_log']}/log")

    assert response.status_code == 404
    assert response.json() == {"message": "No job found"}


def test_log_html_wraps_and_escapes(api, log_aliases):
    response = api.get(log_path(log_aliases["messy_log"], "log.html"))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == TEXT_HTML
    html = response.text
    assert html.startswith('<div class="term-container">~~~ Preparing working directory\n')
    assert html.endswith("The last line has no line end</div>")
    assert "AssertionError: &#x27;&lt;b&gt;&amp;amp;&lt;/b&gt;&#x27; != &quot;&lt;b&gt;&amp;&lt;/b&gt;&quot;" in html


def test_log_html_turns_colours_into_spans(api, log_aliases):
    html = api.get(log_path(log_aliases["messy_log"], "log.html")).text

    assert '<span class="term-fg32">✔</span> installed 212 packages' in html
    assert '<span class="term-fg1 term-fg31">FAILED</span> tests/test_html.py' in html
    assert '<span class="term-fgx208">warning:</span>\tdeprecated option' in html
    assert "\x1b" not in html


def test_log_html_drops_timestamp_markers(api, log_aliases):
    html = api.get(log_path(log_aliases["messy_log"], "log.html")).text

    assert "bk;t=" not in html
    assert "\x07" not in html


def test_log_html_shows_last_progress_update(api, log_aliases):
    html = api.get(log_path(log_aliases["messy_log"], "log.html")).text

    assert "\nDownloading 100% [==========]\n" in html
    assert "Downloading  40%" not in html
    assert "\r" not in html


def test_log_html_keeps_invalid_bytes_replaced(api, log_aliases):
    html = api.get(log_path(log_aliases["messy_log"], "log.html")).text

    assert "A truncated euro sign: \ufffd\n" in html


def test_log_accept_text_html_returns_html(api, log_aliases):
    response = api.get(log_path(log_aliases["small_log"]), headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["Content-Type"] == TEXT_HTML
    assert response.text == (
        '<div class="term-container">--- :wave: Saying hello\n'
        "$ echo hello\n"
        '<span class="term-fg32">hello</span>\n'
        '<span class="term-fg1 term-fg33">warning:</span> nothing else to do\n'
        "</div>"
    )


@pytest.mark.parametrize(
    ("suffix", "accept", "content_type"),
    [("log.txt", "text/html", TEXT_PLAIN), ("log.html", "text/plain", TEXT_HTML), ("log.txt", "*/*", TEXT_PLAIN)],
)
def test_log_suffix_wins_over_accept(api, log_aliases, suffix, accept, content_type):
    response = api.get(log_path(log_aliases["small_log"], suffix), headers={"Accept": accept})

    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type


@pytest.mark.parametrize("suffix", ["log.txt", "log.html"])
def test_log_suffix_with_json_only_accept_not_acceptable(api, log_aliases, suffix):
    response = api.get(log_path(log_aliases["small_log"], suffix), headers={"Accept": "application/json"})

    assert response.status_code == 406
    assert response.json() == NOT_ACCEPTABLE


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/*"])
def test_log_default_format_is_json(api, log_aliases, accept):
    response = api.get(log_path(log_aliases["small_log"]), headers={"Accept": accept})

    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON_TYPE
    assert "content" in response.json()


def test_log_unsupported_accept_not_acceptable(api, log_aliases):
    response = api.get(log_path(log_aliases["small_log"]), headers={"Accept": "image/png"})

    assert response.status_code == 406
    assert response.json() == NOT_ACCEPTABLE


def test_log_accept_quality_picks_format(api, log_aliases):
    response = api.get(log_path(log_aliases["small_log"]), headers={"Accept": "text/html;q=0.5, text/plain"})

    assert response.headers["Content-Type"] == TEXT_PLAIN


def test_log_head_reports_stored_size(api, log_aliases):
    response = api.head(log_path(log_aliases["messy_log"]))

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Content-Length"] == str(len(MESSY_BYTES))
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Type"] == JSON_TYPE


@pytest.mark.parametrize(
    ("suffix", "accept", "content_type"),
    [("log.txt", None, TEXT_PLAIN), ("log", "text/plain", TEXT_PLAIN), ("log", "text/html", TEXT_HTML)],
)
def test_log_head_content_type_follows_format(api, log_aliases, suffix, accept, content_type):
    response = api.head(log_path(log_aliases["messy_log"], suffix), headers={"Accept": accept})

    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Content-Length"] == str(len(MESSY_BYTES))


def test_log_head_ignores_range(api, log_aliases):
    response = api.head(log_path(log_aliases["messy_log"], "log.txt"), headers={"Range": "bytes=-10"})

    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(MESSY_BYTES))
    assert "Content-Range" not in response.headers


def test_log_suffix_range_returns_tail(api, log_aliases):
    response = api.get(log_path(log_aliases["messy_log"]), headers={"Accept": "text/plain", "Range": "bytes=-100"})

    assert response.status_code == 206
    assert response.content == MESSY_BYTES[-100:]
    assert response.headers["Content-Range"] == "bytes 908-1007/1008"
    assert response.headers["Content-Length"] == "100"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Type"] == TEXT_PLAIN


def test_log_suffix_range_on_txt_route(api, log_aliases):
    response = api.get(log_path(log_aliases["messy_log"], "log.txt"), headers={"Range": "bytes=-8"})

    assert response.status_code == 206
    assert response.content == b"line end"
    assert response.headers["Content-Range"] == "bytes 1000-1007/1008"


def test_log_suffix_range_beyond_size_returns_all(api, log_aliases):
    response = api.get(log_path(log_aliases["messy_log"], "log.txt"), headers={"Range": "bytes=-5000"})

    assert response.status_code == 206
    assert response.content == MESSY_BYTES
    assert response.headers["Content-Range"] == "bytes 0-1007/1008"


@pytest.mark.parametrize(
    "range_header",
    ["bytes=0-10", "bytes=5-", "bytes=-10,-20", "bytes=0-1, 5-6", "bytes=-0", "bytes=-", "items=-10", "garbage"],
)
def test_log_unsupported_range_rejected(api, log_aliases, range_header):
    response = api.get(log_path(log_aliases["messy_log"], "log.txt"), headers={"Range": range_header})

    assert response.status_code == 400
    assert response.json() == {
        "message": f"Only suffix byte ranges such as bytes=-1000 are supported, got {range_header!r}"
    }


@pytest.mark.parametrize(("suffix", "accept"), [("log", None), ("log", "application/json"), ("log.html", None)])
def test_log_range_without_text_rejected(api, log_aliases, suffix, accept):
    headers = {"Range": "bytes=-10", "Accept": accept}

    response = api.get(log_path(log_aliases["messy_log"], suffix), headers=headers)

    assert response.status_code == 400
    assert response.json() == {"message": "Range requests need Accept: text/plain or the log.txt route"}


@pytest.mark.parametrize("range_header", ["bytes=-10", "bytes=0-10", "garbage"])
def test_log_range_on_empty_log_not_satisfiable(api, log_aliases, range_header):
    response = api.get(log_path(log_aliases["empty_log"], "log.txt"), headers={"Range": range_header})

    assert response.status_code == 416
    assert response.headers["Content-Range"] == "bytes */0"
    assert response.json() == {"message": "The log is empty, so no byte range of it exists"}


def test_unstarted_job_has_empty_log(api, log_aliases):
    job_id = log_aliases["empty_log"]

    body = api.get(log_path(job_id)).json()
    head = api.head(log_path(job_id))
    text = api.get(log_path(job_id, "log.txt"))

    assert body["content"] == ""
    assert body["size"] == 0
    assert body["header_times"] == []
    assert head.headers["Content-Length"] == "0"
    assert text.status_code == 200
    assert text.content == b""


@pytest.mark.parametrize("alias", ["release_gate", "release_wait", "failed_trigger"])
@pytest.mark.parametrize(
    ("method", "suffix", "headers"),
    [
        ("GET", "log", {}),
        ("GET", "log.txt", {}),
        ("GET", "log.html", {}),
        ("GET", "log", {"Accept": "text/plain", "Range": "bytes=-10"}),
        ("HEAD", "log", {}),
        ("DELETE", "log", {}),
    ],
    ids=["json", "txt", "html", "range", "head", "delete"],
)
def test_job_without_log_not_found(api, aliases, alias, method, suffix, headers):
    response = api.request(method, log_path(aliases[alias], suffix), headers=headers)

    assert response.status_code == 404
    if method != "HEAD":
        assert response.json() == NO_LOG_FOUND


@pytest.mark.parametrize("alias", ["release_gate", "release_wait", "failed_trigger"])
def test_job_without_log_has_no_log_url(api, aliases, alias):
    job = api.get(f"/organizations/acme/jobs/{aliases[alias]}").json()

    assert job["log_url"] is None
    assert job["raw_log_url"] is None


def test_log_url_of_command_job_serves_log(api, aliases):
    job = api.get(f"/organizations/acme/jobs/{aliases['broken_test']}").json()

    json_log = api.session.get(job["log_url"], headers={"Authorization": "Bearer sim-token-full"}, timeout=10)
    raw_log = api.session.get(job["raw_log_url"], headers={"Authorization": "Bearer sim-token-full"}, timeout=10)

    assert json_log.json()["size"] == len(MESSY_BYTES)
    assert raw_log.content == MESSY_BYTES


def test_delete_log_returns_no_content(api, control, log_aliases):
    response = api.delete(log_path(log_aliases["small_log"]))

    assert response.status_code == 204
    assert response.content == b""
    assert "Content-Type" not in response.headers
    assert "Content-Length" not in response.headers
    internals = control.job("small_log")
    assert internals["log_deleted"] is True
    assert internals["times_log_deleted"] == 1
    assert internals["log_size"] == 0


@pytest.mark.parametrize(
    ("method", "suffix", "headers"),
    [
        ("GET", "log", {}),
        ("GET", "log.txt", {}),
        ("GET", "log.html", {}),
        ("GET", "log.txt", {"Range": "bytes=-10"}),
        ("HEAD", "log", {}),
        ("DELETE", "log", {}),
    ],
    ids=["json", "txt", "html", "range", "head", "second-delete"],
)
def test_deleted_log_not_found_by_default(api, control, log_aliases, method, suffix, headers):
    api.delete(log_path(log_aliases["small_log"]))

    response = api.request(method, log_path(log_aliases["small_log"], suffix), headers=headers)

    assert response.status_code == 404
    if method != "HEAD":
        assert response.json() == NO_LOG_FOUND
    assert control.job("small_log")["times_log_deleted"] == 1


def test_deleted_log_empty_when_configured(api, control, log_aliases):
    control.configure(deleted_log_response="empty")
    job_id = log_aliases["small_log"]
    api.delete(log_path(job_id))

    body = api.get(log_path(job_id)).json()
    text = api.get(log_path(job_id, "log.txt"))
    head = api.head(log_path(job_id))
    tail = api.get(log_path(job_id, "log.txt"), headers={"Range": "bytes=-10"})

    assert body["content"] == ""
    assert body["size"] == 0
    assert body["header_times"] == []
    assert text.status_code == 200
    assert text.content == b""
    assert head.status_code == 200
    assert head.headers["Content-Length"] == "0"
    assert tail.status_code == 416


def test_second_delete_when_empty_configured(api, control, log_aliases):
    control.configure(deleted_log_response="empty")
    api.delete(log_path(log_aliases["small_log"]))

    response = api.delete(log_path(log_aliases["small_log"]))

    assert response.status_code == 204
    assert control.job("small_log")["times_log_deleted"] == 2


def test_delete_log_on_build_route(api, control, log_aliases):
    response = api.delete(f"{WEB_300}/jobs/{log_aliases['messy_log']}/log")

    assert response.status_code == 204
    assert control.job("messy_log")["log_deleted"] is True


def test_deleted_log_stays_with_attempt(api, control, aliases):
    api.delete(log_path(aliases["flaky_test"]))

    new_job = api.put(f"/organizations/acme/jobs/{aliases['flaky_test']}/retry").json()
    control.advance(1)

    assert api.get(log_path(aliases["flaky_test"])).status_code == 404
    assert api.get(log_path(new_job["id"])).status_code == 200


@pytest.mark.parametrize("token", ["sim-token-read", "sim-token-nologs"])
@pytest.mark.parametrize("suffix", ["log", "log.txt", "log.html"])
def test_log_needs_read_build_logs_scope(api, log_aliases, token, suffix):
    response = api.get(log_path(log_aliases["small_log"], suffix), token=token)

    assert response.status_code == 403
    assert response.json() == {"message": "Your access token doesn't have the read_build_logs scope"}


def test_log_head_needs_read_build_logs_scope(api, log_aliases):
    response = api.head(log_path(log_aliases["small_log"]), token="sim-token-read")

    assert response.status_code == 403


@pytest.mark.parametrize("token", ["sim-token-read", "sim-token-nologs", "sim-token-logs-reader"])
def test_delete_log_needs_write_build_logs_scope(api, control, log_aliases, token):
    control.add_token(token="sim-token-logs-reader", scopes=["read_builds", "read_build_logs"])

    response = api.delete(log_path(log_aliases["small_log"]), token=token)

    assert response.status_code == 403
    assert response.json() == {"message": "Your access token doesn't have the write_build_logs scope"}
    assert control.job("small_log")["log_deleted"] is False


def test_log_routes_reject_other_methods(api, log_aliases):
    put = api.put(log_path(log_aliases["small_log"]))
    delete_txt = api.delete(log_path(log_aliases["small_log"], "log.txt"))

    assert put.status_code == 405
    assert put.headers["Allow"] == "DELETE, GET"
    assert delete_txt.status_code == 405
    assert delete_txt.headers["Allow"] == "GET"


def test_running_log_grows_with_clock(api, control, log_aliases):
    job_id = log_aliases["growing_log"]

    first = api.get(log_path(job_id, "log.txt")).content
    control.advance(3.5)
    middle = api.get(log_path(job_id, "log.txt")).content
    control.advance(10)
    last = api.get(log_path(job_id, "log.txt")).content

    assert first.count(b"\n") == 1
    assert first.endswith(b"--- :hourglass: Migrating the database\n")
    assert middle.startswith(first)
    assert middle.count(b"\n") == 4
    assert middle.endswith(b"Migration 03/10 applied\n")
    assert last.startswith(middle)
    assert last.count(b"\n") == 11
    assert last.endswith(b"Migration 10/10 applied\n")


def test_growing_log_size_follows_lines(api, control, log_aliases):
    job_id = log_aliases["growing_log"]
    sizes = []
    for _second in range(3):
        head_size = int(api.head(log_path(job_id)).headers["Content-Length"])
        json_size = api.get(log_path(job_id)).json()["size"]
        internal_size = control.job("growing_log")["log_size"]
        assert head_size == json_size == internal_size
        sizes.append(json_size)
        control.advance(1)

    assert sizes[0] < sizes[1] < sizes[2]


def test_growing_log_done_when_job_finishes(api, control, log_aliases):
    control.advance(10)

    job = api.get(f"/organizations/acme/jobs/{log_aliases['growing_log']}").json()
    text = api.get(log_path(log_aliases["growing_log"], "log.txt")).content

    assert job["state"] == "passed"
    assert text.count(b"\n") == 11


def test_new_attempt_log_empty_until_it_starts(api, control, aliases):
    new_job = api.put(f"/organizations/acme/jobs/{aliases['flaky_test']}/retry").json()

    before = api.get(log_path(new_job["id"], "log.txt")).content
    control.advance(0.2)
    after = api.get(log_path(new_job["id"], "log.txt")).content

    assert before == b""
    assert b"test_checkout_total \x1b[32mPASSED\x1b[0m" in after
    assert after.endswith(b"\x1b[32m2 passed in 2.41s\x1b[0m\n")


def test_retried_attempts_keep_own_logs(api, aliases):
    first = api.get(log_path(aliases["chain_first"], "log.txt")).content
    second = api.get(log_path(aliases["chain_second"], "log.txt")).content
    latest = api.get(log_path(aliases["chain_latest"], "log.txt")).content

    assert b"Integration tests (attempt 1)" in first
    assert b"Connection refused" in first
    assert b"Integration tests (attempt 2)" in second
    assert b"Error 111 connecting to cache:6379" in second
    assert b"Integration tests (attempt 3)" in latest
    assert b"Read timed out" in latest


def test_retry_keeps_old_attempt_log(api, control, aliases):
    old_log = api.get(log_path(aliases["flaky_test"], "log.txt")).content

    new_job = api.put(f"/organizations/acme/jobs/{aliases['flaky_test']}/retry").json()
    control.advance(1)

    assert api.get(log_path(aliases["flaky_test"], "log.txt")).content == old_log
    assert b"\x1b[31mFAILED\x1b[0m" in old_log
    assert api.get(log_path(new_job["id"], "log.txt")).content != old_log


def test_fourth_attempt_gets_fourth_log(api, control, aliases):
    new_job = api.put(f"/organizations/acme/jobs/{aliases['chain_latest']}/retry").json()
    control.advance(1)

    text = api.get(log_path(new_job["id"], "log.txt")).content

    assert b"Integration tests (attempt 4)" in text
    assert text.endswith(b"\x1b[32m38 passed in 4.02s\x1b[0m\n")


def test_crlf_log_keeps_line_ends(api, aliases):
    text = api.get(log_path(aliases["passed_job"], "log.txt")).content

    assert text.count(b"\r\n") == 3
    assert text.endswith(b"\x1b[32mSuccess: no issues found in 214 source files\x1b[0m\r\n")


def test_internal_view_reports_log(control, log_aliases):
    messy = control.job("messy_log")
    gate = control.job("block_gate")

    assert messy["log_size"] == len(MESSY_BYTES)
    assert messy["log_deleted"] is False
    assert messy["times_log_deleted"] == 0
    assert gate["log_size"] is None
    assert gate["log_deleted"] is False


def test_log_requests_logged_with_route(api, control, log_aliases):
    api.get(log_path(log_aliases["small_log"]))
    api.head(log_path(log_aliases["small_log"], "log.txt"))
    api.delete(log_path(log_aliases["small_log"]))

    routes = [(entry["method"], entry["route"], entry["status"]) for entry in control.requests()]

    assert routes == [("GET", "get_job_log", 200), ("HEAD", "get_job_log", 200), ("DELETE", "delete_job_log", 204)]


def test_truncated_json_fault_cuts_log(api, control, log_aliases):
    control.add_faults({"action": "truncated_json", "path": "/log$"})

    response = api.get(log_path(log_aliases["messy_log"]))

    full_length = len(api.get(log_path(log_aliases["messy_log"])).content)
    assert response.status_code == 200
    assert len(response.content) == full_length // 2


@pytest.mark.parametrize("deleted_log_response", ["gone", None, 404])
def test_invalid_deleted_log_response_rejected(control, deleted_log_response):
    response = control.session.post(
        f"{control.url}/config", json={"deleted_log_response": deleted_log_response}, timeout=10
    )

    assert response.status_code == 400
    assert "deleted_log_response must be" in response.json()["message"]
