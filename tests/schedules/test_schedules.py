"""Schedules: cron in a time zone, kept as django-celery-beat entries, fired as their owner,
skipped with a reason while the previous run goes on, audited, and changed only by their owner
or an administrator (the permission matrix covers each route for each role)."""

from __future__ import annotations

import json
import re
import zoneinfo
from datetime import datetime

import pytest
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from apps.audit.models import AuditEvent
from apps.executions.models import Execution, ExecutionStatus
from apps.schedules import services
from apps.schedules.models import Firing, Schedule
from apps.schedules.tasks import fire_schedule
from tests.executions.scenario import make_workflow

pytestmark = pytest.mark.django_db
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
UTC = zoneinfo.ZoneInfo("UTC")


@pytest.fixture
def workflow(tmp_path, owner):
    return make_workflow(tmp_path, owner, customers=5, orders=5)[0]


def actions(schedule: Schedule) -> list[str]:
    return list(
        AuditEvent.objects.filter(resource_type="schedule", resource_id=str(schedule.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )


@pytest.mark.parametrize(
    ("cron", "tz", "field"),
    [
        ("0 2 * *", "UTC", "cron"),
        ("61 2 * * *", "UTC", "cron"),
        ("0 2 * * mon-xyz", "UTC", "cron"),
        ("", "UTC", "cron"),
        ("0 2 * * 1", "Mars/Olympus", "timezone"),
        ("0 2 * * 1", "../etc/passwd", "timezone"),
        ("0 2 * * 1", "America", "timezone"),
        ("0 2 * * 1", "UTC\x00", "timezone"),
        (",".join(["1"] * 70) + " 2 * * 1", "UTC", "cron"),
    ],
)
def test_bad_schedules_are_refused_with_the_field_named(cron, tz, field):
    with pytest.raises(services.ScheduleInvalid) as refused:
        services.schedule_clean(cron, tz)
    assert set(refused.value.errors) == {field}


def test_a_schedule_in_words_and_its_next_firing_in_its_own_zone():
    assert services.schedule_clean("  0   2 * *  1 ", "Europe/Paris") == (
        "0 2 * * 1",
        "Europe/Paris",
    )
    words = services.describe("0 2 * * 1", "Europe/Paris")
    assert "02:00" in words and "Monday" in words and words.endswith("(Europe/Paris)")
    schedule = Schedule(cron="0 2 * * 1", timezone="Europe/Paris")
    # Thursday 3 December 2026, 12:00 UTC: next is Monday 7 December, 02:00 in Paris (01:00 UTC)
    now = datetime(2026, 12, 3, 12, 0, tzinfo=zoneinfo.ZoneInfo("UTC"))
    assert services.next_fire(schedule, now) == datetime(2026, 12, 7, 2, 0, tzinfo=PARIS)
    # across the spring change: Monday 30 March 2026 at 02:00 Paris is 00:00 UTC
    march = datetime(2026, 3, 28, 12, 0, tzinfo=zoneinfo.ZoneInfo("UTC"))
    nxt = services.next_fire(schedule, march)
    assert nxt.astimezone(zoneinfo.ZoneInfo("UTC")).hour == 0 and nxt.day == 30
    leap = Schedule(cron="0 0 29 2 *", timezone="UTC")
    assert services.next_fire(leap, now) == datetime(2028, 2, 29, 0, 0, tzinfo=UTC)
    # as beat reads it, a day of the month and a weekday must both match: 29 February on a
    # Monday comes after 2040, past the five years looked at
    assert services.next_fire(Schedule(cron="0 0 29 2 1", timezone="UTC"), now) is None
    schedule.paused = True
    assert services.next_fire(schedule, now) is None


def test_create_pause_resume_delete_keep_beat_in_step(workflow, owner):
    schedule = services.schedule_create(
        workflow=workflow, by=owner, cron="30 6 * * 1-5", tz="Europe/Paris"
    )
    task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    assert task.task == "maskflow.fire_schedule" and task.enabled
    assert json.loads(task.kwargs) == {"schedule_id": schedule.pk}
    cron = task.crontab
    assert (cron.minute, cron.hour, cron.day_of_week) == ("30", "6", "1-5")
    assert str(cron.timezone) == "Europe/Paris"
    services.schedule_set_paused(schedule=schedule, by=owner, paused=True)
    assert PeriodicTask.objects.get(pk=task.pk).enabled is False
    services.schedule_set_paused(schedule=schedule, by=owner, paused=False)
    services.schedule_update(schedule=schedule, by=owner, cron="0 7 * * *")
    task.refresh_from_db()
    assert task.enabled and task.crontab.hour == "7"
    pk = schedule.pk
    services.schedule_delete(schedule=schedule, by=owner)
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()
    assert list(
        AuditEvent.objects.filter(resource_type="schedule", resource_id=str(pk))
        .order_by("seq")
        .values_list("action", flat=True)
    ) == [
        "schedule.create",
        "schedule.pause",
        "schedule.resume",
        "schedule.update",
        "schedule.delete",
    ]


def test_only_the_owner_or_an_admin_changes_a_schedule(workflow, owner, other_user, admin_user):
    with pytest.raises(services.PermissionDenied):
        services.schedule_create(workflow=workflow, by=other_user, cron="0 2 * * *")
    schedule = services.schedule_create(workflow=workflow, by=owner, cron="0 2 * * *")
    for change in (
        lambda by: services.schedule_set_paused(schedule=schedule, by=by, paused=True),
        lambda by: services.schedule_update(schedule=schedule, by=by, cron="0 3 * * *"),
        lambda by: services.schedule_delete(schedule=schedule, by=by),
    ):
        with pytest.raises(services.PermissionDenied):
            change(other_user)
    services.schedule_set_paused(schedule=schedule, by=admin_user, paused=True)
    assert Schedule.objects.get(pk=schedule.pk).paused


def test_a_firing_starts_a_run_as_the_owner_then_skips_while_it_goes_on(workflow, owner):
    schedule = services.schedule_create(workflow=workflow, by=owner, cron="* * * * *")
    assert fire_schedule.apply(kwargs={"schedule_id": schedule.pk}).get() == "started"
    execution = Execution.objects.get(workflow=workflow)
    assert execution.trigger == "schedule" and execution.schedule_id == schedule.pk
    assert execution.executed_by_id == owner.pk and execution.status == ExecutionStatus.QUEUED
    second = services.schedule_fire(schedule_id=schedule.pk)
    assert second.outcome == Firing.Outcome.SKIPPED
    assert second.reason == (
        f"the previous run of this workflow is still going (execution #{execution.pk})"
    )
    assert Execution.objects.filter(workflow=workflow).count() == 1
    assert actions(schedule) == ["schedule.create", "schedule.skip"]
    Execution.objects.filter(pk=execution.pk).update(status=ExecutionStatus.SUCCESS)
    third = services.schedule_fire(schedule_id=schedule.pk)
    assert third.outcome == Firing.Outcome.STARTED and third.execution.schedule_id == schedule.pk
    assert Schedule.objects.get(pk=schedule.pk).last_fired_at is not None


def test_a_scheduled_run_names_its_schedule_in_the_api_and_on_its_page(api, page, workflow, owner):
    schedule = services.schedule_create(workflow=workflow, by=owner, cron="5 4 * * *")
    execution = services.schedule_fire(schedule_id=schedule.pk).execution
    data = api(owner).get(f"/api/executions/{execution.pk}").json()["data"]
    assert data["trigger"] == "schedule" and data["schedule_id"] == schedule.pk
    html = page(owner).get(f"/executions/{execution.pk}/").content.decode()
    assert 'data-testid="fired-by"' in html and "5 4 * * * UTC" in html


def test_a_firing_is_skipped_when_paused_or_its_owner_may_no_longer_run(
    workflow, owner, admin_user
):
    paused = services.schedule_create(workflow=workflow, by=owner, cron="* * * * *")
    services.schedule_set_paused(schedule=paused, by=owner, paused=True)
    assert services.schedule_fire(schedule_id=paused.pk).reason == "the schedule is paused"
    # an admin's schedule on someone else's workflow, after the admin became a user
    demoted = services.schedule_create(workflow=workflow, by=admin_user, cron="* * * * *")
    admin_user.role = "user"
    admin_user.save()
    skipped = services.schedule_fire(schedule_id=demoted.pk)
    assert skipped.outcome == "skipped" and "may no longer run" in skipped.reason
    owner.is_active = False
    owner.save()
    active = Schedule.objects.create(workflow=workflow, cron="* * * * *", created_by=owner)
    assert "deactivated" in services.schedule_fire(schedule_id=active.pk).reason
    assert not Execution.objects.exists()
    assert services.schedule_fire(schedule_id=10**9) is None  # deleted meanwhile


def test_api_create_list_pause_and_refuse_bad_input(api, workflow, owner, other_user):
    url = f"/api/workflows/{workflow.pk}/schedules"
    bad = api(owner).post(url, {"cron": "0 25 * * *", "timezone": "Nowhere/City"}, format="json")
    assert bad.status_code == 400
    assert {d["field"] for d in bad.json()["error"]["details"]} == {"cron", "timezone"}
    made = api(owner).post(url, {"cron": "0 2 * * 1", "timezone": "Europe/Paris"}, format="json")
    assert made.status_code == 201, made.json()
    data = made.json()["data"]
    assert data["description"] == services.describe("0 2 * * 1", "Europe/Paris")
    assert data["paused"] is False and data["next_fire_at"].endswith("+01:00")
    listed = api(other_user).get(url).json()["data"]
    assert [s["id"] for s in listed] == [data["id"]] and listed[0]["can_change"] is False
    paused = api(owner).patch(f"/api/schedules/{data['id']}", {"paused": True}, format="json")
    assert paused.json()["data"]["paused"] is True
    wrong = api(owner).patch(f"/api/schedules/{data['id']}", {"paused": "yes"}, format="json")
    assert wrong.status_code == 400
    assert api(other_user).delete(f"/api/schedules/{data['id']}").status_code == 403
    assert api(owner).delete(f"/api/schedules/{data['id']}").status_code == 200
    assert not Schedule.objects.exists()


def test_workflow_page_shows_schedules_and_adds_one_with_htmx(page, workflow, owner, other_user):
    services.schedule_create(workflow=workflow, by=owner, cron="0 2 * * 1", tz="Europe/Paris")
    html = page(owner).get(f"/workflows/{workflow.pk}/").content.decode()
    assert services.describe("0 2 * * 1", "Europe/Paris") in html
    assert 'data-testid="schedule-form"' in html and 'data-testid="schedule-pause"' in html
    other_view = page(other_user).get(f"/workflows/{workflow.pk}/").content.decode()
    assert "Monday" in other_view and 'data-testid="schedule-form"' not in other_view
    assert 'data-testid="schedule-pause"' not in other_view
    client = page(owner)
    bad = client.post(
        f"/schedules/workflow/{workflow.pk}/add/",
        {"cron": "every day", "timezone": "UTC"},
        HTTP_HX_REQUEST="true",
    )
    assert 'data-testid="schedule-cron-error"' in bad.content.decode()
    assert 'value="every day"' in bad.content.decode()  # what was typed stays in the form
    good = client.post(
        f"/schedules/workflow/{workflow.pk}/add/",
        {"cron": "15 23 * * *", "timezone": "UTC"},
        HTTP_HX_REQUEST="true",
    )
    assert good.status_code == 200 and "23:15" in good.content.decode()
    assert Schedule.objects.filter(workflow=workflow).count() == 2


def test_command_adds_lists_pauses_and_deletes(workflow, owner, capsys):
    call_command("schedules", "add", workflow.name, "0 2 * * 1", "--timezone", "Europe/Paris")
    schedule = Schedule.objects.get()
    assert "added" in capsys.readouterr().out and schedule.created_by_id == owner.pk
    call_command("schedules", "pause", str(schedule.pk))
    call_command("schedules", "list", "--workflow", str(workflow.pk))
    out = capsys.readouterr().out
    assert "paused" in out and "0 2 * * 1" in out and "Europe/Paris" in out
    with pytest.raises(CommandError, match="cron"):
        call_command("schedules", "add", workflow.name, "nope")
    call_command("schedules", "delete", str(schedule.pk))
    assert not Schedule.objects.exists()


def test_only_the_recent_firings_are_kept(workflow, owner, monkeypatch):
    monkeypatch.setattr(services, "KEEP_FIRINGS", 3)
    schedule = services.schedule_create(workflow=workflow, by=owner, cron="* * * * *")
    services.schedule_set_paused(schedule=schedule, by=owner, paused=True)
    fired = [services.schedule_fire(schedule_id=schedule.pk).pk for _ in range(5)]
    assert list(schedule.firings.values_list("pk", flat=True)) == fired[:1:-1]


def test_schedules_page_and_api_list_every_schedule_next_to_fire_first(
    api, page, workflow, owner, other_user, monkeypatch
):
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday
    late = services.schedule_create(workflow=workflow, by=owner, cron="0 23 * * *", tz="UTC")
    soon = services.schedule_create(
        workflow=workflow, by=owner, cron="30 13 * * *", tz="Europe/Paris"
    )  # 12:30 UTC: it fires first, though 13 > 12 and its pk is later
    paused = services.schedule_create(workflow=workflow, by=owner, cron="0 12 * * *", tz="UTC")
    services.schedule_set_paused(schedule=paused, by=owner, paused=True)
    from apps.schedules import selectors

    real = selectors.next_fire
    monkeypatch.setattr(selectors, "next_fire", lambda s: real(s, now))
    listed = api(other_user).get("/api/schedules").json()["data"]
    html = page(other_user).get("/schedules/").content.decode()
    assert [s["id"] for s in listed] == [soon.pk, late.pk, paused.pk]
    assert listed[0]["next_fire_at"] == "2026-03-02T13:30:00+01:00"
    assert listed[2]["next_fire_at"] is None and listed[0]["can_change"] is False
    rows = re.findall(r'data-testid="schedule-(\d+)"', html)
    assert rows == [str(soon.pk), str(late.pk), str(paused.pk)]
    assert workflow.name in html and 'href="/schedules/"' in html  # in the navigation
    assert api(None).get("/api/schedules").status_code == 401
    assert page(None).get("/schedules/").status_code == 302
