"""The configuration as data: one frozen dataclass per YAML section.

Field metadata carries what the loader, the JSON Schema and the documentation need: a
description, bounds, and whether a change needs a restart. Types decide parsing: a
`Secret` field also accepts `<name>_file` and never shows its value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mamd.config import checks
from mamd.config.fields import meta
from mamd.config.units import Bitrate, Duration, Secret, Size
from mamd.config.wanted import WantedConfig


def _d(text: str) -> Duration:
    return Duration.parse(text)


def _s(text: str) -> Size:
    return Size.parse(text)


LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["auto", "console", "journal", "json"]
AudioFormat = Literal["m4b", "mp3", "m4a", "aac", "flac", "ogg", "opus", "wma"]
FreeleechPolicy = Literal["any", "prefer", "only"]
WedgePolicy = Literal["never", "prefer", "require"]
DramatizedPolicy = Literal["never", "fallback", "allow"]
Preference = Literal["freeleech", "narrator", "format", "seeders", "bitrate"]
# how acceptable releases are ranked when `rules.prefer` does not say otherwise: what mamd always did
DEFAULT_PREFERENCES: tuple[Preference, ...] = ("freeleech", "narrator", "format", "seeders", "bitrate")
ImportMethod = Literal["hardlink", "copy"]
NotifyEvent = Literal[
    "grabbed",
    "imported",
    "import_failed",
    "guard",
    "session",
    "hit_and_run_risk",
    "bonus",
    "problem",
    "daily_summary",
    "all",
]
NotifyLevel = Literal["info", "warning", "error"]


@dataclass(frozen=True, kw_only=True)
class HttpConfig:
    host: str = field(
        default="127.0.0.1",
        metadata=meta("address the status and hook server binds", restart=True, check=checks.not_blank),
    )
    port: int = field(default=8787, metadata=meta("TCP port", restart=True, minimum=1, maximum=65535))
    api_key: Secret = field(
        repr=False,
        metadata=meta("key for the API and the qBittorrent hook (at least 16 characters)", min_length=16),
    )
    status_from_loopback: bool = field(
        default=True, metadata=meta("allow /status and /metrics without a key from 127.0.0.1 and ::1")
    )
    allowed_hosts: tuple[str, ...] = field(
        default=(),
        metadata=meta(
            "more names mamd answers to in a request's Host header (besides its address, localhost and "
            "this machine's name)",
            check=checks.host_name,
        ),
    )
    public_url: str | None = field(
        default=None,
        metadata=meta(
            "the address a person opens mamd at (https://nas.example.lan:8787): notifications link to its "
            "/status",
            check=checks.http_url,
        ),
    )


@dataclass(frozen=True, kw_only=True)
class StateConfig:
    database: str = field(
        default="/var/lib/mamd/mamd.db", metadata=meta("SQLite database file", restart=True)
    )
    backups: int = field(default=7, metadata=meta("daily database backups to keep (0: none)", minimum=0))


@dataclass(frozen=True, kw_only=True)
class LoggingConfig:
    level: LogLevel = field(default="info", metadata=meta("least severe level that is logged"))
    format: LogFormat = field(
        default="auto", metadata=meta("auto: console on a tty, journal under systemd, else json")
    )


@dataclass(frozen=True, kw_only=True)
class MamConfig:
    base_url: str = field(
        default="https://www.myanonamouse.net", metadata=meta("MyAnonamouse address", check=checks.http_url)
    )
    session: Secret = field(repr=False, metadata=meta("the mam_id cookie value of a MAM session"))
    search_interval: Duration = field(
        default_factory=lambda: _d("2s"),
        metadata=meta("minimum spacing between MAM requests of one kind", minimum=1),
    )
    languages: tuple[str, ...] = field(
        default=("ENG",),
        metadata=meta("MAM language codes to accept", min_items=1, check=checks.language_code),
    )
    seedbox_update: bool = field(
        default=False, metadata=meta("keep MAM's dynamic seedbox IP current (at most once an hour)")
    )


@dataclass(frozen=True, kw_only=True)
class QbittorrentConfig:
    url: str = field(
        default="http://127.0.0.1:8080", metadata=meta("qBittorrent WebUI address", check=checks.http_url)
    )
    username: str = field(default="admin", metadata=meta("WebUI user name"))
    password: Secret | None = field(
        default=None,
        repr=False,
        metadata=meta("WebUI password (leave out when qBittorrent skips authentication for localhost)"),
    )
    category: str = field(
        default="mamd", metadata=meta("category for mamd's torrents", check=checks.not_blank)
    )
    tags: tuple[str, ...] = field(
        default=("mamd",), metadata=meta("tags for mamd's torrents", check=checks.qbittorrent_tag)
    )
    save_path: str = field(
        default="/srv/torrents/audiobooks",
        metadata=meta(
            "where qBittorrent saves mamd's torrents (outside the library, same filesystem)",
            check=checks.absolute_path,
        ),
    )


@dataclass(frozen=True, kw_only=True)
class AudiobookshelfConfig:
    url: str = field(
        default="http://127.0.0.1:13378", metadata=meta("Audiobookshelf address", check=checks.http_url)
    )
    api_key: Secret = field(repr=False, metadata=meta("API key of an Audiobookshelf admin user"))
    library: str = field(default="Audiobooks", metadata=meta("library name or id", check=checks.not_blank))
    path: str = field(
        default="/srv/media/audiobooks",
        metadata=meta("the library folder on disk, where imports are linked", check=checks.absolute_path),
    )


@dataclass(frozen=True, kw_only=True)
class ScheduleConfig:
    library_sync: Duration = field(
        default_factory=lambda: _d("6h"), metadata=meta("read the library", minimum=60, zero_disables=True)
    )
    discover: Duration = field(
        default_factory=lambda: _d("12h"),
        metadata=meta("work out wanted books", minimum=60, zero_disables=True),
    )
    search: Duration = field(
        default_factory=lambda: _d("1h"),
        metadata=meta("search MAM for wanted books (at least 10m)", minimum=600, zero_disables=True),
    )
    account: Duration = field(
        default_factory=lambda: _d("15m"),
        metadata=meta("read the MAM account (at least 5m)", minimum=300, zero_disables=True),
    )
    reconcile: Duration = field(
        default_factory=lambda: _d("5m"),
        metadata=meta("compare qBittorrent with mamd's records", minimum=60, zero_disables=True),
    )
    retention: Duration = field(
        default_factory=lambda: _d("1d"),
        metadata=meta("prune old records and back up the database", minimum=3600, zero_disables=True),
    )
    series_check: Duration = field(
        default_factory=lambda: _d("7d"),
        metadata=meta(
            "with wanted.series_next, how often each owned series is looked up on MAM for its next "
            "books (at least 1d); the look-ups run with the search job, a few series at a time",
            minimum=86400,
        ),
    )


@dataclass(frozen=True, kw_only=True)
class WedgeRules:
    use: WedgePolicy = field(
        default="never", metadata=meta("spend freeleech wedges: never, prefer or require")
    )
    min_size: Size = field(
        default_factory=lambda: _s("1GiB"), metadata=meta("smallest torrent worth a wedge")
    )
    keep: int = field(default=5, metadata=meta("wedges always kept in reserve", minimum=0))


@dataclass(frozen=True, kw_only=True)
class RulesConfig:
    formats: tuple[AudioFormat, ...] = field(
        default=("m4b", "mp3"), metadata=meta("allowed formats, most preferred first", min_items=1)
    )
    min_bitrate: Bitrate = field(
        default_factory=lambda: Bitrate.parse("64k"), metadata=meta("lowest acceptable audio bitrate")
    )
    max_size: Size = field(default_factory=lambda: _s("4GiB"), metadata=meta("largest acceptable torrent"))
    min_seeders: int = field(default=1, metadata=meta("fewest seeders a candidate may have", minimum=0))
    allow_abridged: bool = field(default=False, metadata=meta("accept abridged editions"))
    allow_bundles: bool = field(default=False, metadata=meta("accept torrents holding several books"))
    freeleech: FreeleechPolicy = field(
        default="prefer", metadata=meta("any, prefer (freeleech first) or only (freeleech only)")
    )
    wedges: WedgeRules = field(default_factory=WedgeRules, metadata=meta("freeleech wedge policy"))
    prefer_narrators: tuple[str, ...] = field(
        default=(), metadata=meta("narrators preferred when choosing", free_text=True)
    )
    dramatized: DramatizedPolicy = field(
        default="fallback",
        metadata=meta(
            "full-cast and dramatised productions: never, fallback (only when no standard narration "
            "passes the rules) or allow"
        ),
    )
    prefer: tuple[Preference, ...] = field(
        default=DEFAULT_PREFERENCES,
        metadata=meta(
            "the order in which acceptable releases are compared; unnamed ones follow in the default "
            "order (freeleech, narrator, format, seeders, bitrate)"
        ),
    )


@dataclass(frozen=True, kw_only=True)
class LimitsConfig:
    grabs_per_day: int = field(default=10, metadata=meta("most torrents grabbed in 24 hours", minimum=0))
    active_downloads: int = field(
        default=3, metadata=meta("most of mamd's torrents downloading at once", minimum=0)
    )
    min_free_space: Size = field(
        default_factory=lambda: _s("20GiB"), metadata=meta("free space kept on the save path")
    )
    unsatisfied_reserve: int = field(
        default=5, metadata=meta("unsatisfied slots on MAM always kept free", minimum=0)
    )


@dataclass(frozen=True, kw_only=True)
class ImportConfig:
    method: ImportMethod = field(
        default="hardlink", metadata=meta("hardlink, or copy (only when asked; mamd never moves)")
    )
    layout: str = field(
        default="{author}/{series}/{position} - {title}",
        metadata=meta(
            "folder of a book inside the library; books without a series use {author}/{title}",
            check=checks.layout_template,
        ),
    )
    write_metadata: bool = field(
        default=True, metadata=meta("write an Audiobookshelf metadata.json beside the linked files")
    )


@dataclass(frozen=True, kw_only=True)
class RatioConfig:
    floor: float = field(
        default=1.5,
        metadata=meta("never grab a non-freeleech torrent that would end below this ratio", minimum=0),
    )
    emergency_below: float = field(
        default=1.2, metadata=meta("stop all grabs and pause downloads below this ratio", minimum=0)
    )
    recover_above: float = field(
        default=1.4, metadata=meta("leave the emergency above this ratio", minimum=0)
    )


@dataclass(frozen=True, kw_only=True)
class SeedingConfig:
    min_seed_time: Duration = field(
        default_factory=lambda: _d("72h"),
        metadata=meta("nothing mamd does stops a MAM torrent before this (MAM requires 72h)", minimum=259200),
    )


@dataclass(frozen=True, kw_only=True)
class VipConfig:
    renew_below: Duration = field(
        default_factory=lambda: _d("7d"), metadata=meta("renew VIP when less than this remains")
    )


@dataclass(frozen=True, kw_only=True)
class UploadCreditConfig:
    when_ratio_below: float = field(
        default=2.0, metadata=meta("buy upload credit while the ratio is below this", minimum=0)
    )
    gib_per_buy: int = field(
        default=50, metadata=meta("GiB per purchase (MAM refuses less than 50 from scripts)", minimum=50)
    )


@dataclass(frozen=True, kw_only=True)
class BonusConfig:
    enabled: bool = field(default=False, metadata=meta("spend bonus points at all"))
    keep_points: int = field(default=10000, metadata=meta("points never spent", minimum=0))
    vip: VipConfig = field(default_factory=VipConfig, metadata=meta("VIP renewal"))
    upload_credit: UploadCreditConfig = field(
        default_factory=UploadCreditConfig, metadata=meta("upload credit purchases")
    )
    max_spend_per_day: int = field(default=50000, metadata=meta("most points spent in 24 hours", minimum=0))


@dataclass(frozen=True, kw_only=True)
class NotifyTarget:
    url: Secret = field(
        repr=False,
        metadata=meta(
            "an Apprise URL (ntfy://, json://, discord://, tgram://, mailto://, …); a secret: it holds a "
            "token",
            check=checks.apprise_url,
        ),
    )
    events: tuple[NotifyEvent, ...] = field(
        default=("all",),
        metadata=meta(
            "what is sent here: grabbed, imported, import_failed, guard, session, hit_and_run_risk, bonus, "
            "problem, daily_summary, or all",
            min_items=1,
        ),
    )
    min_level: NotifyLevel = field(
        default="info", metadata=meta("the least severe messages sent here: info, warning or error")
    )


@dataclass(frozen=True, kw_only=True)
class Config:
    http: HttpConfig = field(metadata=meta("status and hook server"))
    state: StateConfig = field(default_factory=StateConfig, metadata=meta("state database"))
    logging: LoggingConfig = field(default_factory=LoggingConfig, metadata=meta("log output"))
    dry_run: bool = field(default=False, metadata=meta("decide and log everything, change nothing anywhere"))
    mam: MamConfig = field(metadata=meta("MyAnonamouse"))
    qbittorrent: QbittorrentConfig = field(default_factory=QbittorrentConfig, metadata=meta("qBittorrent"))
    audiobookshelf: AudiobookshelfConfig = field(metadata=meta("Audiobookshelf"))
    schedule: ScheduleConfig = field(
        default_factory=ScheduleConfig, metadata=meta("job intervals; 0 disables")
    )
    wanted: WantedConfig = field(default_factory=WantedConfig, metadata=meta("which books are wanted"))
    rules: RulesConfig = field(default_factory=RulesConfig, metadata=meta("which MAM torrent to pick"))
    limits: LimitsConfig = field(default_factory=LimitsConfig, metadata=meta("budgets for grabbing"))
    import_: ImportConfig = field(
        default_factory=ImportConfig,
        metadata={**meta("how finished books enter the library"), "key": "import"},
    )
    ratio: RatioConfig = field(default_factory=RatioConfig, metadata=meta("ratio guard"))
    seeding: SeedingConfig = field(default_factory=SeedingConfig, metadata=meta("seeding protection"))
    bonus: BonusConfig = field(default_factory=BonusConfig, metadata=meta("bonus point spending (opt-in)"))
    notify: tuple[NotifyTarget, ...] = field(
        default=(), metadata=meta("where notifications go (Apprise URLs), and which")
    )
