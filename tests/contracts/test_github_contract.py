"""What ``GitHubPort`` promises, held to by the fake and by the adapter on the stand-in."""

from __future__ import annotations

import pytest
from sides import PR, GitHubSide

from bot.adapters.github import PrNotFoundError
from bot.domain.labels import FREEZE, LabelChange, status_label, ttl_label

SHA = "abc1234"
DEPLOYING = status_label(SHA, "deploying")
RUNNING = status_label(SHA, "running")
POINTER = f"🎪 🎯 {SHA}"
OTHER = "size/M"  # somebody else's label: never touched


def apply(
    github: GitHubSide, *, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()
) -> tuple[str, ...]:
    return github.port.apply_labels(PR, LabelChange(add=add, remove=remove), github.labels(PR))


def test_the_pr_is_read_with_its_labels(github: GitHubSide) -> None:
    apply(github, add=(OTHER, FREEZE))
    pr = github.port.get_pr(PR)
    assert pr.number == PR and pr.state == "open"
    assert sorted(pr.labels) == sorted(github.labels(PR)) == sorted([OTHER, FREEZE])
    assert pr.head_sha == github.port.pr_commit_shas(PR)[-1]


def test_an_unknown_pr_is_not_found(github: GitHubSide) -> None:
    with pytest.raises(PrNotFoundError):
        github.port.get_pr(99999)


def test_adding_removing_and_replacing_labels_end_with_the_same_labels(
    github: GitHubSide,
) -> None:
    after = apply(github, add=(OTHER, DEPLOYING, POINTER))
    assert sorted(after) == sorted(github.labels(PR)) == sorted([OTHER, DEPLOYING, POINTER])

    after = apply(github, add=(POINTER,))  # already there: not twice
    assert sorted(after) == sorted(github.labels(PR)) == sorted([OTHER, DEPLOYING, POINTER])

    after = apply(github, remove=("🎪 not there",))  # one label the PR does not carry
    assert sorted(after) == sorted(github.labels(PR)) == sorted([OTHER, DEPLOYING, POINTER])

    after = apply(github, remove=(POINTER,))  # one label
    assert sorted(after) == sorted(github.labels(PR)) == sorted([OTHER, DEPLOYING])

    after = apply(github, add=(RUNNING, POINTER), remove=(DEPLOYING, "🎪 not there"))
    assert sorted(after) == sorted(github.labels(PR)) == sorted([OTHER, RUNNING, POINTER])

    after = apply(github, remove=(RUNNING, POINTER))  # several at once
    assert list(after) == github.labels(PR) == [OTHER]


def test_a_label_added_is_defined(github: GitHubSide) -> None:
    """GitHub makes the definition of a label added to a PR: rename and delete rely on it."""
    apply(github, add=(DEPLOYING,))
    assert DEPLOYING in github.definitions()


def test_renaming_moves_the_label_on_the_pr(github: GitHubSide) -> None:
    apply(github, add=(OTHER, DEPLOYING))
    assert github.port.rename_label(DEPLOYING, RUNNING) is True
    assert sorted(github.labels(PR)) == sorted([OTHER, RUNNING])
    assert RUNNING in github.definitions() and DEPLOYING not in github.definitions()


def test_renaming_a_label_that_is_gone_is_false_and_changes_nothing(github: GitHubSide) -> None:
    apply(github, add=(RUNNING,))
    assert github.port.rename_label(DEPLOYING, RUNNING) is False  # renamed before
    assert github.labels(PR) == [RUNNING]


def test_renaming_onto_a_defined_name_is_false_and_changes_nothing(github: GitHubSide) -> None:
    apply(github, add=(DEPLOYING,))
    github.define(RUNNING)  # an in-place redeploy's running definition is still there
    assert github.port.rename_label(DEPLOYING, RUNNING) is False
    assert github.labels(PR) == [DEPLOYING]
    assert {DEPLOYING, RUNNING} <= github.definitions()


def test_ensuring_definitions_never_makes_a_per_sha_one_nobody_carries(
    github: GitHubSide,
) -> None:
    carried, gone = DEPLOYING, status_label("def5678", "running")
    apply(github, add=(carried,))
    shared = ttl_label("72h")
    github.port.ensure_label_definitions([shared, carried, gone, OTHER])
    defined = github.definitions()
    assert shared in defined  # the CLI's shared vocabulary is made when missing
    assert carried in defined
    assert gone not in defined  # a definition nobody carries would only pile up
    assert OTHER not in defined  # not the CLI's: GitHub's default is left alone


def test_deleting_a_definition_takes_the_label_off_the_pr(github: GitHubSide) -> None:
    apply(github, add=(OTHER, DEPLOYING, POINTER))
    github.port.delete_label_definitions([DEPLOYING, "🎪 never defined"])
    assert sorted(github.labels(PR)) == sorted([OTHER, POINTER])
    assert DEPLOYING not in github.definitions()


def test_per_sha_definitions_and_which_are_carried(github: GitHubSide) -> None:
    apply(github, add=(DEPLOYING, OTHER))
    github.define(RUNNING)
    assert {DEPLOYING, RUNNING} <= set(github.port.sha_label_definitions())
    assert OTHER not in github.port.sha_label_definitions()
    assert github.port.attached_labels([DEPLOYING, RUNNING, OTHER]) == {DEPLOYING, OTHER}


@pytest.mark.parametrize("role", ["admin", "maintain", "write", "triage", "read"])
def test_a_collaborators_permission_is_their_role(github: GitHubSide, role: str) -> None:
    github.set_role("someone", role)
    assert github.port.collaborator_permission("someone") == role


def test_an_unknown_login_has_no_permission(github: GitHubSide) -> None:
    assert github.port.collaborator_permission("nobody-at-all") == "none"


def test_labelled_prs_are_found_by_their_ttl_label(github: GitHubSide) -> None:
    apply(github, add=(ttl_label("48h"), DEPLOYING))
    found = {pr.number: pr for pr in github.port.find_labelled_prs()}
    assert sorted(found[PR].labels) == sorted(github.labels(PR))
    apply(github, remove=(ttl_label("48h"),))
    assert PR not in {pr.number for pr in github.port.find_labelled_prs()}


def test_a_comment_is_on_the_pr(github: GitHubSide) -> None:
    github.port.comment(PR, "🎪 Showtime: #36121 runs abc1234")
    assert github.comments(PR)[-1] == "🎪 Showtime: #36121 runs abc1234"
