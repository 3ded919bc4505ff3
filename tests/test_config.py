"""A bad setting stops start-up with a message naming the key and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.config import ConfigError, load_settings


def write(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "site.toml"
    path.write_text(text)
    return {"VOICEBOT_CONFIG": str(path)}


def test_defaults_are_the_districts_facts() -> None:
    settings = load_settings({})
    assert settings.district.support_number == "+14048021000"
    assert settings.district.portal_login_url == "ic.apsk12.org/campus/portal/atlanta.jsp"
    assert settings.district.activation_lookup_url == "http://tinyAPS.com/?lookup"
    assert settings.sms_session_ttl == 30 * 60


def test_a_site_file_and_the_environment_override_defaults(tmp_path: Path) -> None:
    environ = write(
        tmp_path, '[district]\nname = "Example County Schools"\nsupport_number = "(770) 555-0199"\n'
    )
    environ["REDIS_URL"] = "redis://cache:6379/2"
    settings = load_settings(environ)
    assert settings.district.name == "Example County Schools"
    assert settings.district.support_number == "+17705550199"
    assert settings.redis_url == "redis://cache:6379/2"


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        (
            '[district]\nsupport_number = "call us"\n',
            {},
            r"\[district\] support_number: not a phone number",
        ),
        ("[voice]\ngather_timeout = 0\n", {}, r"\[voice\] gather_timeout: must be greater than 0"),
        ('[voice]\ndial_timeout = "soon"\n', {}, r"\[voice\] dial_timeout: must be a whole number"),
        (
            '[languages]\nenabled = ["en"]\ndefault = "fr"\n',
            {},
            r"\[languages\] default: 'fr' is not in enabled",
        ),
        ("", {"VOICEBOT_PUBLIC_URL": "helpline.example.org"}, r"VOICEBOT_PUBLIC_URL"),
        ("", {"REDIS_URL": "localhost:6379"}, r"REDIS_URL"),
        (
            "",
            {"REDIS_URL": "http://:hunter2-pass@cache:6379"},
            r"redis_url: not a redis://.* URL$",  # the password is not repeated
        ),
        ("", {"TWILIO_ACCOUNT_SID": "XX123"}, r"TWILIO_ACCOUNT_SID"),
        ("[voice\n", {}, r"not valid TOML"),
        (
            '[support.hours]\nmon = "8-17"\n[support.hours_text]\nen = "x"\nes = "x"\n',
            {},
            r"\[support.hours\] mon: write it as 08:00-17:00",
        ),
        (
            '[support.hours]\nmon = "08:00-17:00"\n[support.hours_text]\nen = "weekdays"\n',
            {},
            r"\[support.hours_text\] es: missing",
        ),
        # a misspelt key or section would be ignored and its default used, without a word
        (
            '[suport.hours]\nmon = "08:00-17:00"\n',
            {},
            r"suport: not a setting; did you mean 'support'",
        ),
        (
            "[voice]\ndial_timout = 5\n",
            {},
            r"\[voice\] dial_timout: not a setting; did you mean 'dial_timeout'",
        ),
        ('[district]\nportal_login_url = ""\n', {}, r"\[district\] portal_login_url: empty"),
        (
            '[district.spoken.es]\nportal_login_url = ""\n',
            {},
            r"\[district.spoken.es\] portal_login_url",
        ),
        (
            "",
            {"VOICEBOT_PUBLIC_URL": "https://example.org/helpline"},
            r"public_url: no path \(/helpline\)",
        ),
        (
            "",
            {"DATABASE_URL": "nonsense"},
            r"DATABASE_URL / \[storage\] database_url: not a database URL",
        ),
        ("", {"DATABASE_URL": "mysql://u@db/x"}, r"database_url: mysql is not supported"),
        ("", {"TWILIO_ACCOUNT_SID": "AC" + "1" * 32}, r"TWILIO_NUMBER: missing"),
        ("", {"TWILIO_NUMBER": "+14045550100"}, r"TWILIO_ACCOUNT_SID: missing"),
        ("[voice]\ndial_timeout = 100000\n", {}, r"\[voice\] dial_timeout: Twilio allows 5 to 600"),
    ],
)
def test_bad_values_name_the_key(
    tmp_path: Path, text: str, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text) | environ)


def test_a_missing_site_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings({"VOICEBOT_CONFIG": str(tmp_path / "nope.toml")})


def test_hours_may_be_written_without_a_leading_zero_and_run_to_midnight(tmp_path: Path) -> None:
    text = (
        '[support.hours]\nmon = "8:00-17:30"\nsat = "00:00-24:00"\ntue = "08:00:00-1700"\n'
        '[support.hours_text]\nen = "weekdays"\nes = "entre semana"\n'
    )
    hours = load_settings(write(tmp_path, text)).support_hours
    opens, closes = hours.weekly[0]
    assert (opens.hour, opens.minute, closes.hour, closes.minute) == (8, 0, 17, 30)
    opens, closes = hours.weekly[5]
    assert opens.hour == 0 and closes.hour == 23 and closes.minute == 59, "open until midnight"
    opens, closes = hours.weekly[1]
    assert (opens.hour, closes.hour) == (8, 17), "ISO forms still read"


def test_the_operators_own_tables_and_optional_keys_are_settings(tmp_path: Path) -> None:
    text = (
        '[support.hours]\nfri = "08:00-17:00"\n[support.hours_text]\nen = "Fridays"\n'
        'es = "los viernes"\n[voice]\nsay_voice = { en = "Polly.Joanna", es = "Polly.Mia" }\n'
        '[twilio]\nauth_token = "t"\n[storage]\nredis_url = "redis://cache:6379/0"\n'
        '[paths]\ninstance = "/tmp/x"\n'
    )
    settings = load_settings(write(tmp_path, text))
    assert settings.say_voice["es"] == "Polly.Mia" and settings.redis_url.startswith("redis://")


def test_serving_without_twilios_sending_settings_needs_an_outbox_chosen_on_purpose(
    tmp_path: Path,
) -> None:
    from voicebot.config import require_for_serving

    environ = {"TWILIO_AUTH_TOKEN": "token", "VOICEBOT_INSTANCE_DIR": str(tmp_path)}
    with pytest.raises(
        ConfigError, match=r"TWILIO_ACCOUNT_SID and TWILIO_NUMBER: missing.*VOICEBOT_OUTBOX"
    ):
        require_for_serving(load_settings(environ), environ)
    trial = environ | {"VOICEBOT_OUTBOX": str(tmp_path / "texts.jsonl")}
    require_for_serving(load_settings(trial), trial)
    sending = environ | {"TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_NUMBER": "+14045550100"}
    require_for_serving(load_settings(sending), sending)


def test_the_outbox_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    from voicebot.channels.outbound import OutboxFile

    outbox = OutboxFile(tmp_path / "texts" / "outbox.jsonl")
    outbox.deliver("+14045550123", "Your code is 123456")
    assert (outbox.path.stat().st_mode & 0o777) == 0o600
    older = tmp_path / "older.jsonl"
    older.write_text("")
    older.chmod(0o644)  # made by hand, or by an older version
    OutboxFile(older).deliver("+14045550123", "Your code is 654321")
    assert (older.stat().st_mode & 0o777) == 0o600


def test_installed_as_a_package_the_help_line_finds_its_files_in_the_current_folder(
    tmp_path: Path,
) -> None:
    """`pip install .` puts the code in site-packages; config/ and flows/ stay in the
    checkout, where a container works: found there, or named in the error."""
    from voicebot.config import REPO_ROOT, project_root

    site = tmp_path / "site-packages"
    site.mkdir()
    assert project_root(package_parent=site, cwd=REPO_ROOT) == REPO_ROOT
    assert project_root(package_parent=site, cwd=tmp_path) == site
    assert project_root(package_parent=REPO_ROOT, cwd=tmp_path) == REPO_ROOT


TWILIO_SENDING = {"TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_NUMBER": "+14045550100"}
MESSAGING_SERVICE = "MG" + "0123456789abcdef" * 2


def test_texts_go_through_a_messaging_service_when_one_is_set(tmp_path: Path) -> None:
    assert load_settings(TWILIO_SENDING).twilio_messaging_service_sid == ""
    environ = TWILIO_SENDING | {"TWILIO_MESSAGING_SERVICE_SID": MESSAGING_SERVICE}
    assert load_settings(environ).twilio_messaging_service_sid == MESSAGING_SERVICE
    in_file = write(tmp_path, f'[twilio]\nmessaging_service_sid = "{MESSAGING_SERVICE}"\n')
    assert load_settings(in_file | TWILIO_SENDING).twilio_messaging_service_sid == (
        MESSAGING_SERVICE
    )


@pytest.mark.parametrize(
    ("sid", "environ", "message"),
    [
        ("PN" + "0" * 32, TWILIO_SENDING, "MG followed by 32 hexadecimal digits"),
        ("MG123", TWILIO_SENDING, "MG followed by 32 hexadecimal digits"),
        ("MG" + "g" * 32, TWILIO_SENDING, "MG followed by 32 hexadecimal digits"),
        (MESSAGING_SERVICE, {}, "only with TWILIO_ACCOUNT_SID and TWILIO_NUMBER"),
    ],
)
def test_a_bad_messaging_service_sid_stops_start_up(
    sid: str, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        load_settings(environ | {"TWILIO_MESSAGING_SERVICE_SID": sid})
    named = "TWILIO_MESSAGING_SERVICE_SID / [twilio] messaging_service_sid:"
    assert str(raised.value).startswith(named)
