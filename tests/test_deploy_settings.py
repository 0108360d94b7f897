"""Safe by default: DEBUG off unless asked for, no built-in SECRET_KEY, and with the
production environment of the README `check --deploy` reports nothing."""
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
# The variables a developer's shell may hold that would change what is checked.
_CLEAN = ("DEBUG", "SECRET_KEY", "SUPPRESSION_HASH_KEY", "DATABASE_URL", "CELERY_BROKER_URL",
          "RATE_LIMIT_REDIS_URL", "CACHE_REDIS_URL", "EMAIL_BACKEND", "ALLOWED_HOSTS",
          "SITE_URL", "DJANGO_SETTINGS_MODULE")


def readme_production_env() -> dict:
    """The lines of the README's production environment block, `<…>` filled in."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Production environment", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    env = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
    return {key: re.sub(r"<[^>]*>", lambda _: secrets.token_hex(32), value)
            for key, value in env.items()}


def manage(args: list[str], env: dict, tmp_path) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if k not in _CLEAN and not k.startswith(("ANYMAIL_", "SECURE_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=120,
        env={**base, "DJANGO_SETTINGS_MODULE": "loyaltycrm.settings.base",
             "LOYALTYCRM_VAR_DIR": str(tmp_path / "var"),
             # PostgreSQL as in production; `check` does not connect to it.
             "DATABASE_URL": "postgres://crm:secret@127.0.0.1:1/loyaltycrm", **env},
    )


def test_check_deploy_is_clean_with_the_readme_production_environment(tmp_path):
    result = manage(["check", "--deploy", "--fail-level", "WARNING"], readme_production_env(),
                    tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_without_the_https_settings_check_deploy_warns(tmp_path):
    env = {k: v for k, v in readme_production_env().items()
           if not k.startswith(("SECURE_", "SESSION_", "CSRF_COOKIE"))}

    result = manage(["check", "--deploy"], env, tmp_path)

    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stdout + result.stderr


def test_debug_is_off_and_a_missing_secret_key_stops_the_web_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in _CLEAN}
    result = subprocess.run(
        [sys.executable, "-c", "import loyaltycrm.wsgi"], cwd=ROOT, capture_output=True,
        text=True, timeout=120,
        env={**env, "DJANGO_SETTINGS_MODULE": "loyaltycrm.settings.base",
             "LOYALTYCRM_VAR_DIR": str(tmp_path / "var")})

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert not (tmp_path / "var" / "secret-key.txt").exists()


def test_manage_py_without_a_key_or_a_say_is_local_development(tmp_path):
    show = ["shell", "--no-imports", "-c", "from django.conf import settings; print(settings.DEBUG)"]

    result = manage(show, {}, tmp_path)

    assert result.stdout.strip() == "True", result.stderr
    assert (tmp_path / "var" / "secret-key.txt").exists()


def test_debug_is_off_unless_asked_for(tmp_path):
    env = {"SECRET_KEY": secrets.token_urlsafe(50)}

    result = manage(["shell", "--no-imports", "-c", "from django.conf import settings; print(settings.DEBUG)"],
                    env, tmp_path)

    assert result.stdout.strip() == "False", result.stderr


def test_local_development_makes_a_random_key_once_and_keeps_it(tmp_path):
    show = ["shell", "--no-imports", "-c", "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY)"]

    first = manage(show, {"DEBUG": "true"}, tmp_path)
    second = manage(show, {"DEBUG": "true"}, tmp_path)
    elsewhere = manage(show, {"DEBUG": "true"}, tmp_path / "other")

    debug, key = first.stdout.split()
    assert debug == "True" and len(key) >= 50
    assert second.stdout.split()[1] == key
    assert elsewhere.stdout.split()[1] != key
    key_file = tmp_path / "var" / "secret-key.txt"
    assert key_file.read_text().strip() == key
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_a_proxy_header_without_its_value_stops_the_start_up_naming_the_variable(tmp_path):
    env = {**readme_production_env(), "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO"}

    result = manage(["check"], env, tmp_path)

    assert result.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER must be a header and its https value" in result.stderr


def test_a_referral_landing_page_that_is_no_web_address_stops_the_start_up(tmp_path):
    env = {**readme_production_env(), "REFERRAL_LANDING_URL": "javascript:alert(1)"}

    result = manage(["check"], env, tmp_path)

    assert result.returncode != 0
    assert "REFERRAL_LANDING_URL must be an absolute http(s) address" in result.stderr
