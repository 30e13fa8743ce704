"""Chinese mode through the UI with the test client: a complaint with a repair inside it, every
task page and the case page read in Chinese, with no English word outside user data and codes;
the same walk in English shows no Chinese outside user data. Engine messages reach people in
their language.
"""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select
from story_time import on_the_day
from test_case_flows import REGISTRATION, REPAIR_ANSWERS, REPAIR_APPLICATION, ROLE_USER, ready_tasks

import engine
from caseflow import store

COMPLAINT_WITH_REPAIR = {
    "confirm_grade": {"complaint_valid": "true", "override_grade": "false", "validity_notes": "Photos checked"},
    "d1_describe": {"problem_description": "Housing scratched in transit packing", "containment_needed": "false"},
    "d3_root_cause": {"root_cause": "Missing foam insert", "responsibility": "internal"},
    "review_d2_d3": {"d2_d3_review_decision": "approve"},
    "d4_actions": {"corrective_actions": "Add foam insert", "preventive_actions": "Packing checklist"},
    "resolution_plan": {"plan_summary": "Repair 1 unit", "disposition_lines.0.kind": "repair",
                        "disposition_lines.0.quantity": "1", "disposition_lines.0.amount": "200",
                        "delivery_amount": "120000"},
    "manager_approve_plan": {"manager_decision": "approve", "manager_comment": "OK"},
    "prepare_repair": {"customer_name": "Huaxin Electronics", "customer_contact": "Ms Li",
                       "address": "8 Lake Rd, Suzhou", "recipient": "Ms Li", "phone": "0512-5555",
                       "email": "li@example.com", "product_model": "PX-2", "serial_no": "SN-0042",
                       "purchase_date": "2025-01-10", "warranty_claim": "out"},
    **REPAIR_ANSWERS,
    "implement_notify": {"implementation_result": "Unit repaired", "customer_notified_on": "2026-03-02",
                         "notification_channel": "email"},
    "customer_feedback": {"customer_feedback": "Fine now", "satisfaction": "4", "satisfied": "true"},
    "capa_verify": {"capa_effective": "true", "verification_notes": "No repeat in 2 lots"},
    "close_summary": {"final_result": "Repaired, closed", "lessons_learned": "Check packing"},
}

INVALID_COMPLAINT = {
    "confirm_grade": {"complaint_valid": "false", "override_grade": "false", "validity_notes": "Photos checked",
                      "invalid_reason": "Units of another supplier"},
    "reply_invalid": {"reply_text": "The units are not ours", "reply_channel": "phone", "replied_on": "2026-03-02"},
}
RETURNED_GOODS_START = {"customer_name": "Huaxin Trading Co.", "product_model": "NLS-HR200", "request_kind": "exchange",
                        "expected_qty": "2", "purchase_date": "2026-02-27"}
RETURNED_GOODS = {
    "receive_goods": {"goods_received_date": "2026-03-02", "received_qty": "2", "goods_condition": "Sealed boxes"},
    "record_exchange_request": {"purchase_date": "2026-02-27", "request_date": "2026-03-02", "unsealed": "false",
                                "deteriorated": "false", "allergy": "false", "invoice_presented": "true",
                                "event_slip_presented": "true"},
    "test_goods": {"withdrawn_date": "2026-03-02", "tested_qty": "2", "defective_qty": "1",
                   "defect_phenomena.0.phenomenon": "No power", "defect_phenomena.0.quantity": "1",
                   "goods_test_result": "One unit dead", "tester": "Wu", "tested_date": "2026-03-02"},
    "dispose_goods": {"isolate_qty": "0", "rework_qty": "0", "repair_qty": "0", "scrap_qty": "1",
                      "return_to_stock_qty": "1", "disposed_date": "2026-03-02"},
    "ship_replacement": {"shipped_qty": "2", "shipment_date": "2026-03-02", "shipment_carrier": "SF Express",
                         "shipment_tracking_no": "SF999"},
    "notify_customer": {"notice_via": "phone", "notice_date": "2026-03-02", "notice_summary": "Replacement sent"},
}
PEOPLE = {**ROLE_USER, "marketing": "marketing", "production": "production", "logistics": "logistics"}
#: Every case walked in both languages: how it starts, the answers to its tasks, its last task.
WALKS = {
    "complaint_with_repair": ("/start/complaint", REGISTRATION, COMPLAINT_WITH_REPAIR, "close_summary"),
    "invalid_complaint": ("/start/complaint", REGISTRATION, INVALID_COMPLAINT, "reply_invalid"),
    "chargeable_repair": ("/start/repair", REPAIR_APPLICATION, REPAIR_ANSWERS, "notify_customer_shipped"),
    "returned_goods": ("/start/returned_goods", RETURNED_GOODS_START, RETURNED_GOODS, "notify_customer"),
}


@pytest.fixture
def app_users(app_users: dict[str, list[str]]) -> dict[str, list[str]]:
    """The staff of conftest, and the returned-goods roles."""
    return {**app_users, "marketing": ["marketing"], "production": ["production"]}


# What a page may show in Latin letters in Chinese mode: form numbers, codes and units of the
# source documents, abbreviations the company uses in Chinese too.
ALLOWED_ASCII = frozenset({
    "F01", "F02", "F03", "F04", "F05", "F06", "F07", "F08", "F09", "F10", "F11", "F12", "F13", "F14",
    "F15", "F16", "CP", "RMA", "CAPA", "8D", "1D", "2D", "3D", "4D", "D1", "D2", "D3", "D4", "GM", "KPI",
    "PPM", "QA", "SN", "PX", "API", "BPMN", "JSON", "ID", "PDF", "CSV", "ERP", "OK", "Caseflow", "English",
    "h", "wd", "MB", "KB", "KiB", "MiB", "pcs", "Ctrl", "JavaScript", "P1", "P2", "P3", "P4", "P5", "P6", "P7",
    "P8", "P9", "MLP", "EVENT",  # the MLP procedure; the EVENT slip (EVENT单) of the exchange rules
})
CODE = re.compile(r"\b[A-Z]{1,4}(?:-[A-Z0-9]{1,4})+\b")  # rule and step codes: SEV-Q-03, T-01, RPR-16
WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*")  # "1D" and "F09" are one word each
CJK = re.compile(r"[\u3400-\u9fff\uff01-\uff5e\u3000-\u303f]+")


def visible_text(page: str) -> str:
    """The text a person reads: no scripts, styles, tags, attribute values or the raw-data block."""
    page = re.sub(r"(?is)<(script|style|pre|textarea)\b.*?</\1>", " ", page)
    page = re.sub(r"(?is)<select\b[^>]*name=\"(?:lang|language)\".*?</select>", " ", page)
    page = re.sub(r"(?s)<!--.*?-->", " ", page)
    page = re.sub(r"(?s)<[^>]+>", " ", page)
    return html.unescape(page)


def user_words(database, answers: dict[str, dict], start: dict | None = None) -> set[str]:
    """Words people typed or named: the answers, user names and display names, test bundles' names."""
    words: set[str] = {"Form", "demo"}  # the name of the form-demo test bundle, as its author wrote it
    with database.session() as s:
        for name, display in s.execute(select(store.User.username, store.User.display_name)):
            words.update(WORD.findall(f"{name} {display or ''}"))
    for values in [start or REGISTRATION, *answers.values()]:
        for value in values.values():
            words.update(WORD.findall(str(value)))
            words.update(CJK.findall(str(value)))
    return words


def english_words(page: str, allowed: set[str]) -> set[str]:
    """ASCII words on a Chinese page that are neither allowed tokens nor user data."""
    text = visible_text(page)
    text = re.sub(r"\b(?:CP|RMA)-\d{4}-\d+\b", " ", text)  # case numbers
    text = re.sub(r"\b[\w.+-]+@[\w.-]+\b", " ", text)  # e-mail addresses typed by users
    text = CODE.sub(" ", text)
    return {w for w in WORD.findall(text) if w not in ALLOWED_ASCII and w not in allowed and not w.isdigit()}


def chinese_words(page: str, allowed: set[str]) -> set[str]:
    """CJK text on an English page that is not user data (the language switch names 中文 itself)."""
    text = visible_text(page).replace("中文", " ")
    return {w for w in CJK.findall(text) if w not in allowed and not any(w in a for a in allowed)}


def start_complaint(browser) -> int:
    response = browser("service").post("/start/complaint", REGISTRATION)
    assert response.status_code == 302
    return int(re.search(r"/cases/(\d+)", response.headers["Location"]).group(1))


def walk(database, browser, instance_id: int, language: str, check,
         answers: dict[str, dict] = COMPLAINT_WITH_REPAIR) -> tuple[list[str], dict[str, set[str]]]:
    """Complete every task of the case in ``language``; ``check(page)`` lists foreign words per page."""
    done: list[str] = []
    found: dict[str, set[str]] = {}
    people: dict[str, object] = {}
    for _round in range(40):
        tasks = ready_tasks(database, instance_id)
        if not tasks:
            break
        task = tasks[0]
        user = PEOPLE[task.role]
        b = people.setdefault(user, browser(user, language))
        page = b.get(f"/tasks/{task.id}").get_data(as_text=True)
        if words := check(page):
            found[f"task {task.name}"] = words
        on_the_day(answers[task.name])
        response = b.post(f"/tasks/{task.id}", answers[task.name])
        assert response.status_code == 302, (task.name, re.findall(r'class="error"[^>]*>([^<]*)',
                                                                    response.get_data(as_text=True)))
        after = b.get(response.headers["Location"]).get_data(as_text=True)  # the success message
        if words := check(after):
            found[f"after {task.name}"] = words
        done.append(task.name)
    viewer = browser("admin", language)
    for url in (f"/cases/{instance_id}", "/", "/cases", "/complaints"):
        if words := check(viewer.get(url).get_data(as_text=True)):
            found[url] = words
    return done, found


def test_complaint_with_a_repair_reads_chinese_throughout(database, deployed, browser, frozen_clock):
    instance_id = start_complaint(browser)
    allowed = user_words(database, COMPLAINT_WITH_REPAIR)
    done, found = walk(database, browser, instance_id, "zh", lambda page: english_words(page, allowed))
    assert "prepare_repair" in done and "repair_device" in done and done[-1] == "close_summary"
    assert not found, "\n".join(f"{where}: {sorted(words)}" for where, words in found.items())


def test_complaint_with_a_repair_shows_no_chinese_in_english(database, deployed, browser, frozen_clock):
    instance_id = start_complaint(browser)
    allowed = user_words(database, COMPLAINT_WITH_REPAIR)
    done, found = walk(database, browser, instance_id, "en", lambda page: chinese_words(page, allowed))
    assert done[-1] == "close_summary"
    assert not found, "\n".join(f"{where}: {sorted(words)}" for where, words in found.items())


def test_repair_steps_inside_a_complaint_are_named_in_chinese(database, deployed, browser, frozen_clock):
    instance_id = start_complaint(browser)
    answers = COMPLAINT_WITH_REPAIR
    for _round in range(12):
        task = ready_tasks(database, instance_id)[0]
        if task.name == "review_application":
            break
        b = browser(ROLE_USER[task.role])
        assert b.post(f"/tasks/{task.id}", answers[task.name]).status_code == 302
    repair = browser("repair", "zh")
    page = repair.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "Review application" not in page and "审核" in page
    inbox = repair.get("/").get_data(as_text=True)
    assert "Review application" not in inbox
    response = repair.post(f"/tasks/{task.id}", answers["review_application"])
    done = repair.get(response.headers["Location"]).get_data(as_text=True)
    assert "Review application" not in done and "已完成" in done


def test_engine_messages_reach_people_in_their_language(database, deployed, browser, frozen_clock):
    instance_id = start_complaint(browser)
    task = ready_tasks(database, instance_id)[0]
    first, second = browser("quality", "zh"), browser("quality", "zh")
    form = second.get(f"/tasks/{task.id}")  # the same task open in a second tab
    assert form.status_code == 200
    assert first.post(f"/tasks/{task.id}", COMPLAINT_WITH_REPAIR[task.name]).status_code == 302
    response = second.post(f"/tasks/{task.id}", COMPLAINT_WITH_REPAIR[task.name])
    page = second.get(response.headers["Location"]).get_data(as_text=True)
    assert "no longer ready" not in page and "completed" not in visible_text(page)
    assert "此任务已由他人完成" in page
    english = browser("quality", "en")
    response = english.post(f"/tasks/{task.id}", COMPLAINT_WITH_REPAIR[task.name])
    assert "someone else has already completed this task" in english.get(
        response.headers["Location"]).get_data(as_text=True)
    with database.session() as s:
        assert s.scalar(select(store.ProcessInstance.status).where(store.ProcessInstance.id == instance_id)) \
            == "running"
    assert engine.Conflict("x").message_code == "conflict"


def test_the_diagram_is_drawn_in_the_users_language(database, deployed, browser):
    instance_id = start_complaint(browser)
    zh = browser("service", "zh").get(f"/cases/{instance_id}/diagram.bpmn")
    assert zh.status_code == 200 and zh.headers["Content-Language"] == "zh"
    xml = zh.get_data(as_text=True)
    assert '<bpmn:process id="complaint"' in xml
    assert 'name="判断投诉成立并确认等级"' in xml  # a user task by its form's x-title-zh
    assert 'name="品保部"' in xml and 'name="quality"' not in xml  # lanes by their role
    assert 'name="结案期限已到"' in xml  # a nameZh property
    en = browser("service", "en").get(f"/cases/{instance_id}/diagram.bpmn").get_data(as_text=True)
    assert 'name="Check validity and confirm grade"' in en and "判断投诉成立并确认等级" not in en
    assert 'name="Quality"' in en and 'name="quality"' not in en
    again = browser("service", "zh").get(f"/cases/{instance_id}/diagram.bpmn",
                                         headers={"If-None-Match": zh.headers["ETag"]})
    assert again.status_code == 304


def test_the_inbox_names_each_case_and_sorts_by_column(database, deployed, browser, frozen_clock):
    first = start_complaint(browser)
    second = browser("service").post("/start/complaint", {**REGISTRATION, "customer_name": "Aurora Optics",
                                                          "product_model": "ZX-9"})
    assert second.status_code == 302
    quality = browser("quality", "zh")
    task = ready_tasks(database, first)[0]
    assert quality.post(f"/tasks/{task.id}/claim", {"next": "/"}).status_code == 302
    page = quality.get("/").get_data(as_text=True)
    rows = re.findall(r'<tr class="deadline-[^"]*" data-task-id="[^"]+">(.*?)</tr>', page, re.S)
    assert len(rows) == 2
    assert all("PX-2" in r or "ZX-9" in r for r in rows)
    assert "Huaxin Electronics" in page and "Aurora Optics" in page
    urgency = re.findall(r'<td data-col="urgency">(.*?)</td>', page, re.S)
    assert all(re.search(r"[\u4e00-\u9fff]", u) for u in urgency), urgency  # labelled, not "general"
    holders = re.findall(r'<td data-col="holder">(.*?)</td>', page, re.S)
    assert "Quality" in holders and "quality" not in holders  # the display name, not the user name
    assert re.search(r'data-testid="countdown">[^<]*\d', page)
    by_customer = quality.get("/?sort=customer").get_data(as_text=True)
    assert by_customer.index("Aurora Optics") < by_customer.index("Huaxin Electronics")
    backwards = quality.get("/?sort=customer&order=desc").get_data(as_text=True)
    assert backwards.index("Huaxin Electronics") < backwards.index("Aurora Optics")
    assert quality.get("/?sort=nonsense").status_code == 200
    assert "放弃领取" in page and "退回" not in re.sub(r"(?s)<script.*?</script>", "", page)


def test_every_engine_message_has_a_code_and_a_translation(app):
    """Each text the engine raises (run, sync, timers, definitions, records) maps to a message code
    of its own, and the web UI has a sentence for every code."""
    import ast
    from pathlib import Path

    from caseflow._engine import errors
    from web.labels import ENGINE_MESSAGES

    kinds = {"Conflict": engine.Conflict, "InstanceError": engine.InstanceError, "NotFound": engine.NotFound,
             "Forbidden": engine.Forbidden}
    root = Path(__file__).resolve().parents[2]
    texts: list[tuple[str, type, str]] = []
    for path in [root / "engine.py", *sorted((root / "caseflow" / "_engine").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and \
                    isinstance(node.exc.func, ast.Name) and node.exc.func.id in kinds and node.exc.args:
                arg = node.exc.args[0]
                if isinstance(arg, ast.IfExp):
                    arg = arg.body
                if isinstance(arg, ast.Constant):
                    text = str(arg.value)
                elif isinstance(arg, ast.JoinedStr):
                    text = "".join(str(v.value) if isinstance(v, ast.Constant) else
                                   "'x1'" if isinstance(v, ast.FormattedValue) and v.conversion == ord("r") else "7"
                                   for v in arg.values)
                else:
                    continue
                texts.append((f"{path.name}:{node.lineno}", kinds[node.exc.func.id], text))
    assert len(texts) >= 20
    generic = {errors.describe(k).api_code for k in kinds.values()}
    for where, kind, text in texts:
        err = kind(text)
        assert err.message_code not in generic, f"{where}: {text!r} has no message code"
        assert err.message_code in ENGINE_MESSAGES, f"{where}: no sentence for {err.message_code}"
        assert str(err) == text  # the API's and the CLI's text is unchanged
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        from web.labels import engine_message

        message = engine_message(engine.InstanceError("instance 3 is error"))
        assert "3" not in message or "案件" in message
        assert "出错" in message and "error" not in message
        assert engine_message(engine.NotFound("no instance 999")) == "没有案件 999。"


def advance_to(database, browser, instance_id: int, name: str, language: str = "en") -> tuple[str, str]:
    """Complete the case's tasks until ``name`` is ready; its id and page (for its role's user)."""
    for _round in range(30):
        task = ready_tasks(database, instance_id)[0]
        b = browser(ROLE_USER[task.role], language)
        if task.name == name:
            return task.id, b.get(f"/tasks/{task.id}").get_data(as_text=True)
        on_the_day(COMPLAINT_WITH_REPAIR[task.name])
        assert b.post(f"/tasks/{task.id}", COMPLAINT_WITH_REPAIR[task.name]).status_code == 302, task.name
    raise AssertionError(f"{name} never became ready")


def panel_first(page: str) -> str:
    match = re.search(r'<div data-testid="task-facts">(.*?)</div>\s*<details', page, re.S)
    assert match, "the task has no facts of its own at the top of the side panel"
    return match.group(1)


def test_each_task_shows_what_it_needs_first(database, deployed, browser, frozen_clock):
    instance_id = start_complaint(browser)
    _id, approval = advance_to(database, browser, instance_id, "manager_approve_plan", "zh")
    first = panel_first(approval)
    table = re.search(r'<table class="list compact fact-table".*?</table>', first, re.S).group(0)
    assert "处置方式" in table and "维修" in table and "200" in table  # kind, its label, the amount
    assert "Kind:" not in approval and 'data-testid="totals"' in table
    assert first.index("方案说明") < first.index("处置方式")  # the plan summary, then its lines
    _id, shipping = advance_to(database, browser, instance_id, "send_shipping_instructions")
    with database.session() as s:
        number = s.get(store.ProcessInstance, instance_id).data["repair_number"]
    assert number.startswith("RMA-") and number in panel_first(shipping)
    _id, answer = advance_to(database, browser, instance_id, "record_fee_decision")
    assert 'data-key="fee_amount"' in panel_first(answer) and "560" in panel_first(answer)
    _id, payment = advance_to(database, browser, instance_id, "confirm_payment")
    assert 'data-key="fee_amount"' in panel_first(payment)
    case_page = browser("admin", "zh").get(f"/cases/{instance_id}").get_data(as_text=True)
    assert number in case_page
    assert re.search(r"已完成：[^<(]+\(批准\)", case_page)  # history says what the approver decided


def test_the_inbox_reads_its_cases_in_one_query_whatever_their_number(database, deployed, browser, frozen_clock):
    from sqlalchemy import event

    def instance_queries(count: int) -> int:
        for _n in range(count):
            start_complaint(browser)
        quality = browser("quality")
        seen: list[str] = []

        def record(_conn, _cursor, statement, *_args) -> None:
            if "process_instance" in statement and "human_task" not in statement:
                seen.append(statement)

        event.listen(database.engine, "before_cursor_execute", record)
        try:
            page = quality.get("/").get_data(as_text=True)
        finally:
            event.remove(database.engine, "before_cursor_execute", record)
        assert page.count('data-col="customer">Huaxin Electronics<') >= count
        return len(seen)

    assert instance_queries(1) == instance_queries(5) == 1


@pytest.mark.parametrize("name", [w for w in WALKS if w != "complaint_with_repair"])
def test_every_process_reads_chinese_throughout(database, deployed, browser, frozen_clock, name):
    url, start, answers, last = WALKS[name]
    starter = "marketing" if url.endswith("returned_goods") else "service"
    response = browser(starter, "zh").post(url, start)
    assert response.status_code == 302, response.get_data(as_text=True)
    instance_id = int(re.search(r"/cases/(\d+)", response.headers["Location"]).group(1))
    allowed = user_words(database, answers, start)
    done, found = walk(database, browser, instance_id, "zh", lambda page: english_words(page, allowed), answers)
    assert done[-1] == last and set(done) == set(answers), done
    assert not found, "\n".join(f"{where}: {sorted(words)}" for where, words in found.items())


@pytest.mark.parametrize("name", [w for w in WALKS if w != "complaint_with_repair"])
def test_every_process_shows_no_chinese_in_english(database, deployed, browser, frozen_clock, name):
    url, start, answers, last = WALKS[name]
    starter = "marketing" if url.endswith("returned_goods") else "service"
    response = browser(starter, "en").post(url, start)
    assert response.status_code == 302, response.get_data(as_text=True)
    instance_id = int(re.search(r"/cases/(\d+)", response.headers["Location"]).group(1))
    allowed = user_words(database, answers, start)
    done, found = walk(database, browser, instance_id, "en", lambda page: chinese_words(page, allowed), answers)
    assert done[-1] == last
    assert not found, "\n".join(f"{where}: {sorted(words)}" for where, words in found.items())


def test_the_case_diagram_leaves_out_the_authors_notes(database, deployed, browser):
    instance_id = start_complaint(browser)
    for language in ("zh", "en"):
        xml = browser("service", language).get(f"/cases/{instance_id}/diagram.bpmn").get_data(as_text=True)
        assert "textAnnotation" not in xml and "never fires" not in xml and "<bpmn:documentation" not in xml
        assert 'bpmnElement="note_timers"' not in xml and 'bpmnElement="assoc_timers"' not in xml
        assert 'bpmnElement="compute_case_deadlines"' in xml  # the rest is drawn
    with database.session() as s:
        definition_id = s.get(store.ProcessInstance, instance_id).definition_id
        assert "note_timers" in engine.diagram_xml(s, definition_id)  # the stored diagram keeps them


def test_account_and_admin_messages_reach_people_in_chinese(database, deployed, browser):
    quality = browser("quality", "zh")
    page = quality.post("/account/", {"display_name": "Quality", "current_password": "secret-pw",
                                      "new_password": "ab"}).get_data(as_text=True)
    assert "密码至少需要 8 个字符。" in page and "the password needs" not in page
    page = quality.post("/account/tokens", {"name": "x" * 201}).get_data(as_text=True)
    assert "令牌名称最多 200 个字符。" in page
    admin = browser("admin", "zh")
    page = admin.post("/admin/users", {"username": "quality", "password": "pw-123456", "roles": "quality"}).get_data(
        as_text=True)
    assert "用户 quality 已存在。" in page and "already exists" not in page
    english = browser("admin", "en").post("/admin/users", {"username": "quality", "password": "pw-123456",
                                                           "roles": "quality"}).get_data(as_text=True)
    assert "The user quality already exists." in english
    page = admin.post("/admin/processes/complaint/migrate", {"to": "1", "select": "ids", "instance_ids": "CP-0000-9",
                                                            "action": "dry_run"}).get_data(as_text=True)
    assert "neither an instance id" not in page and re.search(r'class="flash[^"]*"[^>]*>[^<]*[\u4e00-\u9fff]', page)
