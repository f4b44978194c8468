from tests.factories import score_case
from workflow.services import perform


def test_full_flow(world):
    c = world.case
    perform(c, "submit", world.trainee)
    perform(c, "approve", world.mentor)
    perform(c, "endorse", world.executive, data={"letter_number": "800/123", "letter_date": "2026-03-05"})
    c.milestones[0].status = "verified"
    perform(c, "submit_report", world.trainee)
    score_case(world)
    perform(c, "finalize", world.organizer)
    assert c.state == "completed"
    assert c.predicate == "Memuaskan"
