"""The demo council: framework, instruments, four quarterly waves per instrument with
synthetic responses, population margins, KPI values, demo users (an admin, two analysts and a
safeguarding reviewer), safeguarding flags and two analysts' coding of a comment sample.

Deterministic for a given seed: the same seed gives the same responses, answers and KPIs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from analysis.synthetic import synthetic_responses
from analysis.text.coding import code_comments, theme_lists
from analysis.text.samples import DEMO_COMMENTS
from instruments import Definitions
from instruments.codebook import RedactionSettings

from . import clock
from .comments.queries import coding_sample, save_coding, text_questions
from .definitions import load_instruments
from .extensions import db
from .ingestion import Submission, insert_responses, text_question_ids, validate
from .models import (
    Action,
    ActionNote,
    ActionStatus,
    Event,
    FlagStatus,
    GroupSize,
    InstrumentVersion,
    Invitation,
    KpiValue,
    PopulationMargin,
    Response,
    Role,
    SafeguardingFlag,
    User,
    Wave,
    WaveMode,
    WaveReminder,
)
from .security import hash_password, hash_token, new_token

DEMO_ADMIN_EMAIL = "admin@demo.example"
DEMO_ADMIN_PASSWORD = "pulse-demo-admin"


@dataclass(frozen=True)
class DemoUser:
    email: str
    password: str
    name: str
    role: Role


DEMO_USERS = (
    DemoUser(DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, "Demo administrator", Role.ADMIN),
    DemoUser("analyst@demo.example", "pulse-demo-analyst", "Demo analyst", Role.ANALYST),
    DemoUser("analyst2@demo.example", "pulse-demo-analyst2", "Second demo analyst", Role.ANALYST),
    DemoUser(
        "safeguarding@demo.example",
        "pulse-demo-safeguarding",
        "Demo safeguarding reviewer",
        Role.SAFEGUARDING,
    ),
    # A councillor reads the scorecard and reports and changes nothing: the viewer role.
    DemoUser("councillor@demo.example", "pulse-demo-councillor", "Councillor Demo", Role.VIEWER),
)
CODED_WAVE = "2026-Q3"  # the wave whose comment sample the two demo analysts have coded
CODING_SAMPLE = 20
QUARTERS = [
    ("2025-Q4", dt.date(2025, 10, 6)),
    ("2026-Q1", dt.date(2026, 1, 12)),
    ("2026-Q2", dt.date(2026, 4, 13)),
    ("2026-Q3", dt.date(2026, 7, 13)),
]
FIELDWORK_DAYS = 28

# Latent movement per wave by outcome: most improve, O10 (the budget) falls, O7 is flat.
TRENDS = {"O4": 0.2, "O5": 0.18, "O7": 0.0, "O10": -0.15}


@dataclass(frozen=True)
class Plan:
    mode: WaveMode
    audience_size: int
    sizes: tuple[int, int, int, int]
    attribute_weights: dict[str, list[float]]
    comments: tuple[str, ...]


# Realistic comments (analysis.text.samples): the demo stores them through the same redaction
# as any comment, so the ones that mention contact details show the placeholders.
COMMENTS = {audience: tuple(texts) for audience, texts in DEMO_COMMENTS.items()}

PLANS = {
    "member-pulse": Plan(WaveMode.INVITE, 49, (29, 33, 36, 38), {}, COMMENTS["members"]),
    "staff-pulse": Plan(
        WaveMode.OPEN, 1850, (412, 486, 530, 575), {"grade": [0.7, 0.25, 0.05]}, COMMENTS["staff"]
    ),
    "staff-roadshow": Plan(WaveMode.EVENT, 1850, (118, 142, 135, 150), {}, COMMENTS["staff"]),
    "resident-perception": Plan(
        WaveMode.OPEN,
        128_000,
        (540, 610, 585, 640),
        # older residents answer surveys more readily: the sample needs weighting
        {"age_band": [0.2, 0.35, 0.45], "sex": [0.58, 0.42], "ward": [0.3, 0.14, 0.22, 0.2, 0.14]},
        COMMENTS["residents"],
    ),
    "partner-survey": Plan(WaveMode.INVITE, 60, (31, 27, 34, 36), {}, COMMENTS["partners"]),
    # routed: satisfaction with a service only from those who used it
    "resident-services": Plan(
        WaveMode.OPEN,
        128_000,
        (310, 345, 330, 360),
        {"age_band": [0.25, 0.35, 0.4], "sex": [0.55, 0.45], "ward": [0.3, 0.14, 0.22, 0.2, 0.14]},
        COMMENTS["residents"],
    ),
}

# Residents aged 16+ by category (rounded, illustrative of a borough of ~128,000 adults).
RESIDENT_MARGINS = {
    "age_band": {"16-34": 41_000, "35-54": 45_000, "55 and over": 42_000},
    "sex": {"Female": 65_500, "Male": 62_500},
    "ward": {
        "Grays and Chafford": 36_000,
        "Tilbury and Riverside": 22_000,
        "Stanford and Corringham": 27_000,
        "Aveley and Ockendon": 24_000,
        "Rural East": 19_000,
    },
}

KPI_SERIES = {
    "O9-divested": ([35.0, 52.0, 68.0, 77.0], "Treasury management quarterly report"),
    "O10-gap": ([48.0, 31.0, 22.0, 14.0], "Medium-term financial strategy update"),
    "O3-vacancy": ([55.0, 62.0, 70.0, 74.0], "HR establishment report"),
    "O6-decisions": ([72.0, 80.0, 85.0, 91.0], "Democratic services monitoring"),
    "O8-audit": ([45.0, 52.0, 61.0, 66.0], "Internal audit progress report"),
}


def is_seeded() -> bool:
    return bool(db.session.scalar(select(func.count()).select_from(Wave)))


def seed_demo(
    definitions: Definitions, seed: int = 2026, today: dt.date | None = None
) -> dict[str, int]:
    """Seed the demo council into an empty database; returns counts of what was made."""
    today = today or clock.today()
    rng = np.random.default_rng(seed)
    load_instruments(definitions)
    versions = {
        v.instrument_id: v
        for v in db.session.scalars(select(InstrumentVersion).order_by(InstrumentVersion.id))
    }
    counts = {"waves": 0, "responses": 0, "answers": 0, "invitations": 0}
    for offset, (instrument_id, plan) in enumerate(sorted(PLANS.items())):
        if instrument_id not in definitions.instruments:
            continue
        instrument = definitions.instruments[instrument_id]
        version = versions[instrument_id]
        waves = [_make_wave(version, label, opens, plan) for label, opens in QUARTERS]
        db.session.flush()
        frame = synthetic_responses(
            instrument,
            [w.label for w in waves],
            list(plan.sizes),
            seed=seed + offset,
            version=version.version,
            trends=TRENDS,
            attribute_weights=plan.attribute_weights,
            comments=plan.comments,
            stored=True,
            wave_days={
                w.label: [
                    (w.opens_on + dt.timedelta(days=d)).isoformat() for d in range(FIELDWORK_DAYS)
                ]
                for w in waves
            },
        )
        made = _store_responses(
            frame, instrument, {w.label: w for w in waves}, rng, definitions.redaction
        )
        counts["responses"] += made[0]
        counts["answers"] += made[1]
        counts["waves"] += len(waves)
        if plan.mode is WaveMode.INVITE:
            counts["invitations"] += _make_used_invitations(waves, frame, plan)
        current = _make_wave(
            version,
            "2026-Q4",
            today - dt.timedelta(days=14),
            plan,
            closes=today + dt.timedelta(days=45),
        )
        counts["waves"] += 1
        if plan.mode is WaveMode.INVITE:
            db.session.flush()
            counts["invitations"] += len(_make_invitations(current, plan.audience_size))
    _seed_margins()
    _seed_kpis()
    _seed_users()
    db.session.flush()
    _seed_reviews(definitions, rng)
    _seed_action_plans(definitions, today)
    db.session.commit()
    return counts


def _make_wave(
    version: InstrumentVersion,
    label: str,
    opens: dt.date,
    plan: Plan,
    closes: dt.date | None = None,
) -> Wave:
    wave = Wave(
        label=label,
        instrument_version=version,
        audience=version.audience,
        mode=plan.mode,
        opens_on=opens,
        closes_on=closes or opens + dt.timedelta(days=FIELDWORK_DAYS - 1),
        audience_size=plan.audience_size,
    )
    if plan.mode is WaveMode.EVENT:
        places = ["Civic Offices, Grays", "Tilbury Hub", "Corringham Library"]
        wave.events = [
            Event(
                code=f"{label.replace('-', '').lower()}{i + 1}",
                place=place,
                held_on=opens + dt.timedelta(days=7 * i),
            )
            for i, place in enumerate(places)
        ]
    db.session.add(wave)
    return wave


def _store_responses(
    frame: pd.DataFrame, instrument, waves: dict[str, Wave], rng, redaction: RedactionSettings
) -> tuple[int, int]:
    """The synthetic responses, through the same door as every answer (validated, comments
    redacted, safeguarding flags opened), one insert per wave."""
    known = [q.id for q in instrument.answer_items] + [a.id for a in instrument.attributes]
    by_wave: dict[str, tuple[list[str], list[Submission]]] = {}
    frame = frame.astype(object).where(frame.notna(), None)
    for row in frame.itertuples(index=False):
        record = row._asdict()
        wave = waves[record["wave"]]
        event_id = None
        if wave.events:
            event_id = wave.events[int(rng.integers(0, len(wave.events)))].id
        questions, attributes = validate(
            instrument,
            # not asked is decided again by the door itself, from the answers
            {f: record[f] for f in known if record[f] is not None and record[f] != "na"},
        )
        ids, submissions = by_wave.setdefault(record["wave"], ([], []))
        ids.append(record["response_id"])
        submissions.append(
            Submission(
                questions,
                attributes,
                dt.date.fromisoformat(record["submitted_on"]),
                event_id=event_id,
            )
        )
    connection = db.session.connection()
    text_ids = text_question_ids(instrument)
    for label, (ids, submissions) in by_wave.items():
        insert_responses(
            connection,
            waves[label].id,
            submissions,
            text_ids,
            ids=ids,
            signals=redaction.safeguarding,
        )
    return (
        sum(len(ids) for ids, _ in by_wave.values()),
        sum(len(s.questions) for _, subs in by_wave.values() for s in subs),
    )


def _make_invitations(wave: Wave, count: int, used: int = 0) -> list[Invitation]:
    invitations = [
        Invitation(wave_id=wave.id, token_hash=hash_token(new_token()), used=i < used)
        for i in range(count)
    ]
    db.session.add_all(invitations)
    return invitations


def _make_used_invitations(waves: list[Wave], frame: pd.DataFrame, plan: Plan) -> int:
    # Past invite waves: every member was invited, the respondents' invitations are used,
    # and contact details have been purged (data minimisation).
    responded = frame.groupby("wave").size()
    return sum(
        len(_make_invitations(w, plan.audience_size, int(responded[w.label]))) for w in waves
    )


def _seed_margins() -> None:
    for variable, categories in RESIDENT_MARGINS.items():
        for category, population in categories.items():
            db.session.add(
                PopulationMargin(
                    audience="residents",
                    variable=variable,
                    category=category,
                    population=population,
                )
            )


# The staff establishment by grade (of 1,850), for the "who responded" tables.
STAFF_ESTABLISHMENT = {"grade": [1250, 480, 120]}


def _seed_action_plans(definitions: Definitions, today: dt.date) -> None:
    """Group sizes, reminder days on the live invite waves, and a few actions (one on the
    public "You said, we did" page)."""
    staff = definitions.instruments.get("staff-pulse")
    if staff is not None:
        for attribute in staff.attributes:
            for value, size in zip(
                attribute.choices, STAFF_ESTABLISHMENT.get(attribute.id, []), strict=False
            ):
                db.session.add(
                    GroupSize(audience="staff", attribute=attribute.id, value=value, size=size)
                )
    live = db.session.scalars(
        select(Wave).where(Wave.mode == WaveMode.INVITE, Wave.closes_on >= today)
    )
    for wave in live:
        db.session.add_all([WaveReminder(wave_id=wave.id, days=d) for d in (7, 21)])
    heard_in = db.session.scalar(
        select(Wave)
        .join(InstrumentVersion)
        .where(InstrumentVersion.instrument_id == "member-pulse", Wave.label == "2026-Q3")
    )
    analyst = _demo_user(Role.ANALYST)
    briefings = Action(
        title="Monthly member briefings on the corporate plan",
        instrument_id="member-pulse",
        audience="members",
        heard_wave_id=heard_in.id if heard_in else None,
        heard="Fewer than half of members feel engaged in setting the council's direction.",
        outcome_id="O1",
        planned="The chief executive briefs all members each month, with a question session.",
        owner_name="Head of Democratic Services",
        due_on=today + dt.timedelta(days=60),
        status=ActionStatus.IN_PROGRESS,
        published=True,
    )
    briefings.notes = [
        ActionNote(
            author_id=analyst.id,
            status=ActionStatus.IN_PROGRESS,
            text="The first two briefings have been held; about 30 members came to each.",
        )
    ]
    db.session.add_all(
        [
            briefings,
            Action(
                title="Publish the scrutiny work programme",
                instrument_id="member-pulse",
                audience="members",
                heard="Members asked for clearer sight of what scrutiny will look at.",
                outcome_id="O6",
                planned="Publish the work programme on the website and update it quarterly.",
                owner_user_id=analyst.id,
                due_on=today - dt.timedelta(days=10),
                status=ActionStatus.NOT_STARTED,
            ),
        ]
    )


def _seed_kpis() -> None:
    for measure_id, (values, source) in KPI_SERIES.items():
        for (period, _), value in zip(QUARTERS, values, strict=True):
            db.session.add(
                KpiValue(measure_id=measure_id, period=period, value=value, source=source)
            )


def ensure_demo_users() -> None:
    """Add any demo sign-in that is missing (a demo seeded before it existed gets it too);
    the caller commits."""
    _seed_users()


def _seed_users() -> None:
    for demo in DEMO_USERS:
        if db.session.scalar(select(User).where(User.email == demo.email)) is None:
            db.session.add(
                User(
                    email=demo.email,
                    name=demo.name,
                    role=demo.role,
                    password_hash=hash_password(demo.password),
                )
            )


def ensure_demo_second_factors() -> list[str]:
    """Give each demo account whose role requires a second factor (``MFA_REQUIRED_ROLES``)
    an authenticator secret of its own, kept only sealed in the database, so that a newcomer
    without an authenticator app can get its codes from ``flask users totp-code EMAIL``.
    Accounts that already have one keep it. Commits; returns the accounts that need a code."""
    from . import two_factor

    needing = []
    for demo in DEMO_USERS:
        user = db.session.scalar(select(User).where(User.email == demo.email))
        if user is None or not two_factor.is_required(user):
            continue
        if two_factor.factor_of(user.id) is None:
            two_factor.install(user, two_factor.new_secret(), recovery_codes=0)
        needing.append(user.email)
    db.session.commit()
    return needing


def _demo_user(role: Role, number: int = 0) -> User:
    emails = [d.email for d in DEMO_USERS if d.role is role]
    return db.session.scalars(select(User).where(User.email == emails[number])).one()


def _seed_reviews(definitions: Definitions, rng: np.random.Generator) -> None:
    """The reviewer has actioned the flags of earlier waves (the latest wave's stay open, so
    the queue has work in it), and both analysts have coded the latest wave's sample: the
    codebook's suggestions, the second analyst disagreeing now and then, and the first
    marking the comments without placeholders as quotable so reports have quotes."""
    reviewer = _demo_user(Role.SAFEGUARDING)
    for found in db.session.scalars(
        select(SafeguardingFlag).join(Response).join(Wave).where(Wave.label != CODED_WAVE)
    ):
        found.status, found.actioned_by_id = FlagStatus.ACTIONED, reviewer.id
        found.actioned_on = found.response.wave.closes_on + dt.timedelta(days=3)
        found.action = "Passed to the designated safeguarding lead; no one is identifiable."
    db.session.flush()
    if definitions.codebook is None:
        return
    first, second = _demo_user(Role.ANALYST, 0), _demo_user(Role.ANALYST, 1)
    theme_ids = definitions.codebook.theme_ids
    for wave in db.session.scalars(select(Wave).where(Wave.label == CODED_WAVE)):
        for question in text_questions(wave):
            sample = coding_sample(wave, question.id, CODING_SAMPLE)
            suggested = theme_lists(
                code_comments(
                    pd.Series([a.value for a in sample], dtype=object), definitions.codebook
                )
            )
            for answer, themes in zip(sample, suggested, strict=True):
                quotable = "[" not in answer.value and len(answer.value) > 30
                save_coding(answer, first.id, themes, quotable, today=wave.closes_on)
                if rng.random() < 0.25:  # the second coder sometimes adds or drops a theme
                    themes = sorted(
                        set(themes) ^ {theme_ids[int(rng.integers(len(theme_ids)))]},
                        key=theme_ids.index,
                    )
                save_coding(answer, second.id, themes, False, today=wave.closes_on)


def demo_links(invites: int = 3, today: dt.date | None = None) -> list[tuple[str, str]]:
    """Ways into the live demo waves, as (description, path): the public link of each open
    wave, the short link of each roadshow event, and ``invites`` personal links per live
    invite wave. Tokens are never stored, so the personal links are made afresh: unused
    invitations get new tokens (the number of invitations does not change) and links
    printed by an earlier run stop working."""
    today = today or clock.today()
    links: list[tuple[str, str]] = []
    waves = db.session.scalars(
        select(Wave)
        .join(InstrumentVersion)
        .where(Wave.opens_on <= today, Wave.closes_on >= today)
        .order_by(InstrumentVersion.instrument_id, Wave.id)
    ).all()
    for wave in waves:
        title = wave.instrument_version.title
        if wave.mode is WaveMode.OPEN:
            links.append((f"{title} (open link)", f"/s/{wave.slug}"))
        elif wave.mode is WaveMode.EVENT:
            links += [(f"{title} ({e.place})", f"/e/{e.code}") for e in wave.events]
        else:
            unused = db.session.scalars(
                select(Invitation)
                .where(Invitation.wave_id == wave.id, Invitation.used.is_(False))
                .order_by(Invitation.id)
                .limit(invites)
            ).all()
            for number, invitation in enumerate(unused, start=1):
                token = new_token()
                invitation.token_hash = hash_token(token)
                links.append((f"{title} (personal link {number}, works once)", f"/i/{token}"))
    db.session.commit()
    return links
