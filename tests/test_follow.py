"""Follow the teacher (pnp_lessons.follow): a presenter's settings reach read-only followers on the same server,
defaults included, and a bad room name or a garbled state file loses nothing."""


import pytest

from conftest import wait_until
from pnp_lessons import follow
from pnp_lessons.params import SettingsError


@pytest.fixture(autouse=True)
def rooms(tmp_path, monkeypatch):
    monkeypatch.setenv("PNP_LESSONS_FOLLOW_DIR", str(tmp_path))
    return tmp_path




def test_publish_and_read_a_room():
    assert follow.read("r1") is None
    assert follow.publish("r1", {"gamma": 1.5, "solver": "fista-tv"}) == 1
    assert follow.publish("r1", {"gamma": 0.5}) == 2
    state = follow.read("r1")
    assert state["version"] == 2 and state["query"] == "gamma=0.50"


@pytest.mark.parametrize("room", ["", "a/b", "../x", "x" * 41, "é"])
def test_bad_room_names_are_refused(room):
    with pytest.raises(SettingsError, match="room must be"):
        follow.publish(room, {})
    if room:   # an empty ?room= is the default room
        with pytest.raises(SettingsError, match="room must be"):
            follow.room_from_query(f"room={room}")


def test_a_garbled_state_file_reads_as_nothing_published(rooms):
    (rooms / "r2.json").write_text("{not json")
    assert follow.read("r2") is None
    assert follow.publish("r2", {"gamma": 1.0}) == 1


def test_a_follower_gets_each_new_version():
    got = []
    f = follow.Follower("r3", lambda s, notes: got.append((s, notes)), interval=0.02)
    try:
        follow.publish("r3", {"gamma": 1.25, "operator": "deblur"})
        assert wait_until(lambda: len(got) == 1)
        assert got[0] == ({"gamma": 1.25, "operator": "deblur"}, [])
        follow.publish("r3", {"gamma": 0.9})          # back to the default: the query is empty
        assert wait_until(lambda: len(got) == 2) and got[1] == ({}, [])
    finally:
        f.close()


def test_a_following_playground_mirrors_the_presenter_and_takes_no_input():
    from pnp_lessons.widgets import Playground

    teacher = Playground(present="r4", defaults=dict(size=32, max_iter=2), autostart=False)
    student = Playground(follow="r4", defaults=dict(size=32, max_iter=2), autostart=False)
    try:
        assert student.controls.params["gamma"].slider.disabled and student.controls.solver.disabled
        teacher.controls.set_values(gamma=1.4, operator="deblur")
        assert wait_until(lambda: student.controls.settings["gamma"] == 1.4
                      and student.controls.settings["operator"] == "deblur")
        teacher.controls.set_values(gamma=0.9)         # a default value travels too (as "absent from the link")
        assert wait_until(lambda: student.controls.settings["gamma"] == 0.9)
        assert student.controls.settings["operator"] == "deblur"
        assert "Following room" in student.room_line.value and "Presenting to room" in teacher.room_line.value
        assert student.controls.params["gamma"].slider.disabled            # still read-only after updates
        assert "playground.ipynb?" in student.share.value
    finally:
        student.close()
        teacher.close()
