"""A demo park that feels real: GPU nodes in two Slurm partitions, three pilot lines, a dozen
wet-lab instruments, about twenty tenants with members, trainings, quotas and weights."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from booking.rounds.models import AllocationRound
from booking.tenancy.models import Membership, Period, Tenant, Tier
from booking.tenancy.services import quota_set
from resources.clusters import default_cluster_name
from resources.models import BookingMode, Location, Park, ResourceKind, ResourcePool, Training
from resources.services import (
    gpu_node_create,
    lab_instrument_create,
    maintenance_add,
    pilot_line_create,
    training_grant,
)

DEMO_MARKER_SLUG = "hetao-photonics"
DEMO_PASSWORD = "park-demo"  # noqa: S105 - printed for the demo only, never used outside it

T = dt.time
WEEKDAYS = range(0, 5)

TENANTS = [
    # name, tier, park, weight
    ("Hetao Photonics", Tier.STARTUP, Park.HONG_KONG, 1.0),
    ("Qianhai Robotics", Tier.STARTUP, Park.SHENZHEN, 1.0),
    ("Bay Area Semiconductor", Tier.ENTERPRISE, Park.SHENZHEN, 3.0),
    ("Lok Ma Chau Biotech", Tier.STARTUP, Park.HONG_KONG, 1.0),
    ("InnoHK Centre for AI Health", Tier.ACADEMIC, Park.HONG_KONG, 2.0),
    ("Futian GaN Devices", Tier.ENTERPRISE, Park.SHENZHEN, 2.5),
    ("Pearl River Materials Lab", Tier.ACADEMIC, Park.SHENZHEN, 2.0),
    ("HKU Precision Medicine Group", Tier.ACADEMIC, Park.HONG_KONG, 2.0),
    ("Shenzhen Bay Genomics", Tier.ENTERPRISE, Park.SHENZHEN, 2.5),
    ("Sai Kung Quantum", Tier.STARTUP, Park.HONG_KONG, 1.0),
    ("Nanshan Smart Manufacturing", Tier.ENTERPRISE, Park.SHENZHEN, 3.0),
    ("CUHK Microfluidics Lab", Tier.ACADEMIC, Park.HONG_KONG, 1.5),
    ("Greater Bay Drug Discovery", Tier.ENTERPRISE, Park.HONG_KONG, 2.5),
    ("Lingnan Vision Systems", Tier.STARTUP, Park.SHENZHEN, 1.0),
    ("State Key Lab of Power Electronics", Tier.ACADEMIC, Park.SHENZHEN, 2.0),
    ("Tsim Sha Tsui Language Models", Tier.STARTUP, Park.HONG_KONG, 1.2),
    ("HKUST Cell Imaging Core", Tier.ACADEMIC, Park.HONG_KONG, 1.5),
    ("Dongguan Electronics Assembly", Tier.ENTERPRISE, Park.SHENZHEN, 2.0),
    ("Shekou Marine Biology", Tier.STARTUP, Park.SHENZHEN, 0.8),
    ("Tai Po Battery Research", Tier.STARTUP, Park.HONG_KONG, 1.0),
]

GIVEN = [
    "Wing",
    "Ka Man",
    "Mei",
    "Jun",
    "Xiaoling",
    "Hao",
    "Chi Keung",
    "Yan",
    "Li Na",
    "Siu Fung",
    "Zhiwei",
    "Hoi Yan",
    "Tian",
    "Man Kit",
    "Yuqing",
    "Kwok Wai",
    "Ling",
    "Pui Shan",
    "Bo",
    "Yiu",
]
FAMILY = [
    "Chan",
    "Wong",
    "Li",
    "Cheung",
    "Lau",
    "Chen",
    "Zhang",
    "Ho",
    "Leung",
    "Wang",
    "Ng",
    "Liu",
]


# Each tenant's quotas: (resource class, period, hours at weight 1).
QUOTAS = [
    (ResourceKind.GPU_NODE, Period.WEEK, 200),
    (ResourceKind.GPU_NODE, Period.QUARTER, 2000),
    (ResourceKind.PILOT_LINE, Period.MONTH, 60),
    (ResourceKind.LAB_INSTRUMENT, Period.WEEK, 20),
]


@dataclass(frozen=True)
class DemoLogins:
    operator: str
    manager: str
    member: str
    password: str
    tenant: str


def demo_exists() -> bool:
    return Tenant.objects.filter(slug=DEMO_MARKER_SLUG).exists()


@transaction.atomic
def demo_park_build(*, seed: int = 7, today: dt.date | None = None) -> DemoLogins:
    """Build the whole demo park in one transaction (all or nothing)."""
    rng = random.Random(seed)
    today = today or timezone.localdate()
    User = get_user_model()
    # Hash the shared demo password once: hashing it per user would take most of the build time.
    hashed = make_password(DEMO_PASSWORD)

    # Locations: one zone, two parks.
    hk = Location.objects.create(name="Hong Kong Park", level="park", park=Park.HONG_KONG)
    sz = Location.objects.create(name="Shenzhen Park", level="park", park=Park.SHENZHEN)
    hk_b1 = Location.objects.create(
        name="Building 1 · Life & Health", level="building", parent=hk, park="hk"
    )
    hk_f3 = Location.objects.create(name="3/F", level="floor", parent=hk_b1, park="hk")
    lab_bsl2 = Location.objects.create(
        name="Room 301 (BSL-2)", level="room", parent=hk_f3, park="hk", biosafety_level=2
    )
    lab_bsl1 = Location.objects.create(
        name="Room 305 (imaging)", level="room", parent=hk_f3, park="hk", biosafety_level=1
    )
    hk_dc = Location.objects.create(name="Data Centre A", level="building", parent=hk, park="hk")
    hall = Location.objects.create(name="GPU hall", level="room", parent=hk_dc, park="hk")
    sz_fab = Location.objects.create(name="Pilot Plant", level="building", parent=sz, park="sz")
    sz_g = Location.objects.create(name="G/F", level="floor", parent=sz_fab, park="sz")
    bay_a = Location.objects.create(
        name="Bay A (cleanroom ISO 6)", level="room", parent=sz_g, park="sz"
    )
    bay_b = Location.objects.create(name="Bay B (machining)", level="room", parent=sz_g, park="sz")
    bay_c = Location.objects.create(name="Bay C (SMT)", level="room", parent=sz_g, park="sz")
    metrology_room = Location.objects.create(
        name="Metrology room", level="room", parent=sz_g, park="sz"
    )

    # Trainings.
    trainings = {
        code: Training.objects.create(code=code, name=name, validity_days=days)
        for code, name, days in [
            ("bsc", "Biosafety cabinet (BSL-2) induction", 365),
            ("confocal", "Confocal microscopy", 730),
            ("flow", "Flow cytometry", 730),
            ("ngs", "Next-generation sequencing", 730),
            ("lcms", "LC-MS operation", 730),
            ("sem", "Scanning electron microscope", 730),
        ]
    }

    # GPU nodes in two Slurm partitions.
    gpu_common = {
        "min_length_minutes": 60,
        "max_length_minutes": 48 * 60,
        "slot_minutes": 60,
        "horizon_days": 28,
        "min_notice_minutes": 0,
    }
    a100 = [
        gpu_node_create(
            name=f"A100 node gpu0{i}",
            slug=f"gpu0{i}",
            location=hall,
            gpu_model="A100",
            gpu_count=4,
            gpu_memory_gb=80,
            cpus=64,
            memory_gb=512,
            slurm_cluster=default_cluster_name(),
            slurm_partition="gpu",
            slurm_node=f"gpu0{i}",
            **gpu_common,
        )
        for i in range(1, 5)
    ]
    h100 = [
        gpu_node_create(
            name=f"H100 node h100-0{i}",
            slug=f"h100-0{i}",
            location=hall,
            gpu_model="H100",
            gpu_count=8,
            gpu_memory_gb=80,
            cpus=112,
            memory_gb=2048,
            slurm_cluster=default_cluster_name(),
            slurm_partition="h100",
            slurm_node=f"h100-0{i}",
            booking_mode=BookingMode.ROUND,
            **gpu_common,
        )
        for i in range(1, 3)
    ]
    pool_a100 = ResourcePool.objects.create(
        name="Any A100 node", slug="any-a100", kind=ResourceKind.GPU_NODE
    )
    pool_a100.members.set(a100)
    pool_h100 = ResourcePool.objects.create(
        name="Any H100 node", slug="any-h100", kind=ResourceKind.GPU_NODE
    )
    pool_h100.members.set(h100)

    # Pilot lines (planned in rounds), with sequence-dependent changeovers and shifts.
    shifts = [(d, T(8, 0), T(20, 0)) for d in range(0, 6)]
    line_rules = {
        "min_length_minutes": 240,
        "max_length_minutes": 72 * 60,
        "slot_minutes": 60,
        "horizon_days": 90,
        "min_notice_minutes": 24 * 60,
    }
    epi = pilot_line_create(
        name="SiC/GaN epitaxy line",
        slug="sic-gan-epi",
        location=bay_a,
        process="SiC / GaN epitaxy",
        min_run_minutes=360,
        shifts=shifts,
        **line_rules,
        recipes={
            "sic-epi": "SiC epitaxy 6-inch",
            "gan-hemt": "GaN-on-Si HEMT",
            "gan-led": "GaN LED",
        },
        changeovers={
            "sic-epi": {"sic-epi": 0, "gan-hemt": 360, "gan-led": 360},
            "gan-hemt": {"sic-epi": 240, "gan-hemt": 0, "gan-led": 90},
            "gan-led": {"sic-epi": 240, "gan-hemt": 90, "gan-led": 0},
        },
    )
    pilot_line_create(
        name="Flexible precision machining centre",
        slug="precision-machining",
        location=bay_b,
        process="5-axis precision machining",
        min_run_minutes=240,
        shifts=shifts,
        **line_rules,
        recipes={
            "al-housing": "Aluminium housings",
            "ti-implant": "Titanium implants",
            "steel-mould": "Steel moulds",
        },
        changeovers={
            "al-housing": {"al-housing": 0, "ti-implant": 180, "steel-mould": 120},
            "ti-implant": {"al-housing": 180, "ti-implant": 0, "steel-mould": 150},
            "steel-mould": {"al-housing": 120, "ti-implant": 150, "steel-mould": 0},
        },
    )
    pilot_line_create(
        name="SMT line",
        slug="smt-line",
        location=bay_c,
        process="Surface-mount assembly",
        min_run_minutes=240,
        shifts=shifts,
        **line_rules,
        recipes={"lead-free": "Lead-free reflow", "mixed": "Mixed through-hole + SMT"},
        changeovers={
            "lead-free": {"lead-free": 0, "mixed": 60},
            "mixed": {"lead-free": 90, "mixed": 0},
        },
    )

    # Wet-lab and metrology instruments (instant booking, opening hours, trainings).
    office = [(d, T(8, 0), T(20, 0)) for d in WEEKDAYS] + [(5, T(9, 0), T(13, 0))]
    lab_rules = {
        "min_length_minutes": 30,
        "max_length_minutes": 8 * 60,
        "slot_minutes": 30,
        "horizon_days": 28,
        "min_notice_minutes": 60,
    }
    instruments = [
        (
            "Illumina NovaSeq sequencer",
            "novaseq",
            lab_bsl2,
            "Sequencer",
            "Illumina NovaSeq X",
            "ngs",
        ),
        ("MGI DNBSEQ sequencer", "dnbseq", lab_bsl2, "Sequencer", "MGI DNBSEQ-T7", "ngs"),
        ("Orbitrap LC-MS", "orbitrap", lab_bsl1, "LC-MS", "Thermo Orbitrap Exploris", "lcms"),
        (
            "Confocal microscope 1",
            "confocal-1",
            lab_bsl1,
            "Confocal microscope",
            "Zeiss LSM 980",
            "confocal",
        ),
        (
            "Confocal microscope 2",
            "confocal-2",
            lab_bsl1,
            "Confocal microscope",
            "Leica Stellaris 8",
            "confocal",
        ),
        (
            "Flow cytometer (analyser)",
            "flow-1",
            lab_bsl2,
            "Flow cytometer",
            "BD FACSymphony A5",
            "flow",
        ),
        ("Cell sorter", "flow-2", lab_bsl2, "Flow cytometer", "BD FACSAria Fusion", "flow"),
        ("Biosafety cabinet A", "bsc-a", lab_bsl2, "Biosafety cabinet", "Class II A2", "bsc"),
        ("Biosafety cabinet B", "bsc-b", lab_bsl2, "Biosafety cabinet", "Class II A2", "bsc"),
        ("qPCR system", "qpcr", lab_bsl2, "qPCR", "Bio-Rad CFX Opus", None),
        ("Scanning electron microscope", "sem", metrology_room, "SEM", "Hitachi SU5000", "sem"),
        ("X-ray diffractometer", "xrd", metrology_room, "XRD (metrology)", "Bruker D8", None),
    ]
    made = {}
    for name, slug, room, itype, make, training in instruments:
        made[slug] = lab_instrument_create(
            name=name,
            slug=slug,
            location=room,
            instrument_type=itype,
            make_model=make,
            required_training=trainings[training] if training else None,
            opening_hours=office,
            **lab_rules,
        )
    confocal_pool = ResourcePool.objects.create(
        name="Any confocal", slug="any-confocal", kind=ResourceKind.LAB_INSTRUMENT
    )
    confocal_pool.members.set([made["confocal-1"], made["confocal-2"]])

    # Maintenance windows in the coming weeks.
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    maintenance_add(
        resource=a100[3],
        start=now + dt.timedelta(days=3),
        end=now + dt.timedelta(days=3, hours=8),
        reason="Firmware upgrade",
    )
    maintenance_add(
        resource=epi,
        start=now + dt.timedelta(days=9),
        end=now + dt.timedelta(days=10),
        reason="Reactor bake-out",
    )
    maintenance_add(
        resource=made["confocal-1"],
        start=now + dt.timedelta(days=2),
        end=now + dt.timedelta(days=2, hours=4),
        reason="Laser alignment",
    )

    # Operator.
    operator = User.objects.create(
        username="operator",
        email="operator@park.local",
        password=hashed,
        first_name="Park",
        last_name="Operator",
        is_staff=True,
        is_superuser=True,
    )

    # Tenants with members, trainings, quotas and weights.
    manager_login = member_login = ""
    first_tenant = ""
    used_names: set[str] = set()
    for index, (name, tier, park, weight) in enumerate(TENANTS):
        slug = slugify(name)[:60]
        tenant = Tenant(
            name=name,
            slug=slug,
            tier=tier,
            home_park=park,
            weight=Decimal(str(weight)),
            slurm_account=slug.replace("-", "_")[:40],
        )
        tenant.full_clean()  # a bad row is refused with the field's rule, not a database error
        tenant.save()
        for role_index in range(rng.randint(2, 4)):
            while True:
                given, family = rng.choice(GIVEN), rng.choice(FAMILY)
                if (given, family) not in used_names:
                    used_names.add((given, family))
                    break
            role = Membership.Role.MANAGER if role_index == 0 else Membership.Role.MEMBER
            if index == 0 and role_index == 0:
                username = "manager"
            elif index == 0 and role_index == 1:
                username = "member"
            else:
                username = f"{slugify(given).replace('-', '')}.{family.lower()}.{index}"
            user = User.objects.create(
                username=username,
                email=f"{username}@{slug}.example",
                password=hashed,
                first_name=given,
                last_name=family,
            )
            Membership.objects.create(
                user=user,
                tenant=tenant,
                role=role,
                cluster_username=username.replace(".", "_")[:32],
            )
            for training in rng.sample(list(trainings.values()), rng.randint(0, 3)):
                granted = today - dt.timedelta(days=rng.randint(10, 300))
                training_grant(user=user, training=training, granted_on=granted)
            if index == 0 and role_index == 0:
                manager_login, first_tenant = username, name
            if index == 0 and role_index == 1:
                member_login = username
                for code in ("confocal", "bsc"):
                    training_grant(
                        user=user,
                        training=trainings[code],
                        granted_on=today - dt.timedelta(days=30),
                    )
        for resource_class, period, hours in QUOTAS:
            quota_set(
                tenant=tenant,
                resource_class=resource_class,
                period=period,
                hours=round(hours * float(weight)),
                actor=operator,
                note="demo park",
            )

    # An open allocation round for the week after next (lines and H100 nodes are planned in
    # rounds; the days before it belong to the published round of the living demo).
    monday = today + dt.timedelta(days=14 - today.weekday())
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(monday, T(0, 0), tzinfo=tz)
    AllocationRound.objects.create(
        name=f"Week of {monday:%Y-%m-%d}",
        period_start=start,
        period_end=start + dt.timedelta(days=7),
        cutoff=start - dt.timedelta(days=2, hours=6),
    )
    return DemoLogins(
        operator="operator",
        manager=manager_login,
        member=member_login,
        password=DEMO_PASSWORD,
        tenant=first_tenant,
    )
