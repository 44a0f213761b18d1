"""Fixtures for roles and correction analytics: a small constructed vault with exact, known rates."""

from __future__ import annotations


import pytest
from analytics_data import INT, IR, NR, POS, RWF, RWO, add_session, typed


@pytest.fixture
def rated_vault(con):
    """Five sessions with known rates (default definition: typed turns, min 3, threshold 0.15).

    s1 api  2026-03-02 (W10): 10 typed, 2 corrections          -> 0.20, troubled
    s2 api  2026-03-10 (W11, W12): 20 typed, 3 corrections     -> 0.15, not troubled (rate > threshold only)
    s3 docs 2026-03-03 (W10): 4 typed + 1 interrupt, 1 corr.   -> 0.25 (human_side: 1/5 = 0.20)
    s4 docs 2026-03-04 (W10): 2 typed, 1 correction            -> not rated (fewer than 3 turns)
    s5 docs 2026-03-05: 3 typed, none labelled yet             -> not in the report; 3 unlabelled turns
    s1/agent-x: a subagent of s1 without human turns
    """
    add_session(con, "s1", project="api", cwd="/home/ann/work/api", started="2026-03-02T09:00:00",
                first_prompt="Add an endpoint",
                turns=typed(IR, NR, RWF, NR, NR, RWF, POS, NR, NR, RWO))
    # s2: turns 0-9 in W11 (1 correction), turns 10-19 seven days later in W12 (2 corrections)
    add_session(con, "s2", project="api", cwd="/home/ann/work/api", started="2026-03-10T09:00:00", day_step=7,
                first_prompt="Fix the tests",
                turns=typed(IR, RWF, *[NR] * 8, RWF, NR, RWF, *[NR] * 7))
    add_session(con, "s3", project="docs", cwd="/home/ann/work/docs-site", started="2026-03-03T10:00:00",
                first_prompt="Draft the FAQ",
                turns=typed(IR, NR) + [(INT, "interrupt")] + typed(RWF, NR))
    add_session(con, "s4", project="docs", cwd="/home/ann/work/docs-site", started="2026-03-04T10:00:00",
                first_prompt="Shorter intro", turns=typed(IR, RWF))
    add_session(con, "s5", project="docs", cwd="/home/ann/work/docs-site", started="2026-03-05T10:00:00",
                first_prompt="Later", turns=typed(None, None, None))
    add_session(con, "s1/agent-x", project="api", cwd="/home/ann/work/api", started="2026-03-02T09:01:00",
                parent="s1", agent_type="Explore")
    return con
