"""Every reason code the code base records has plain words (REASON_WORDS), translatable."""
import pathlib
import re

from django.utils.functional import Promise

from campaigns.admin.deliveries import REASON_WORDS

CAMPAIGNS = pathlib.Path(__file__).resolve().parents[2] / "campaigns"
# The ways a reason code is written in campaigns/: a keyword or dict key named *reason,
# a tuple assignment to message.reason, a provider failure, a refused legal ground, a
# cap rule's name, and the legal grounds a sent row keeps as its reason.
PATTERNS = [
    r"\breason\s*=\s*\"([a-z_]+)\"",
    r"\"(?:exit_)?reason\"\s*:\s*\"([a-z_]+)\"",
    r"\.reason\s*=\s*[\w.]+,\s*\"([a-z_]+)\"",
    r"\breason\s*=\s*[\w.]+\s+or\s+\"([a-z_]+)\"",
    r"SendFailure\(\w+,\s*\"([a-z_]+)\"",
    r"_refused\(\"([a-z_]+)\"",
    r"\(\"([a-z_]+)\",\s*(?:_cap_frees_at|\(max\(recent_sends\)|_quiet_hours_end)",
    r"^(?:CONSENT|EXISTING_CUSTOMER|TEMPLATE_ERROR)\s*=\s*\"([a-z_]+)\"",
    r"legal_ground,\s*message\.ground_detail\s*=\s*\"([a-z_]+)\"",
]
# Codes that are not reasons although a pattern matches them (points ledger, suppressions).
NOT_MESSAGE_REASONS = {"expiry", "bounced", "complained", "manual"}


def recorded_codes() -> dict[str, str]:
    codes = {}
    for path in CAMPAIGNS.rglob("*.py"):
        if "migrations" in path.parts or path.name == "deliveries.py" and "admin" in path.parts:
            continue
        text = path.read_text()
        for pattern in PATTERNS:
            for match in re.finditer(pattern, text, flags=re.MULTILINE):
                codes.setdefault(match.group(1), str(path.relative_to(CAMPAIGNS)))
    return {code: where for code, where in codes.items() if code not in NOT_MESSAGE_REASONS}


def test_the_scan_finds_the_reasons_of_each_part_of_the_send_path():
    codes = recorded_codes()

    # One from each writer, so a scan that silently found nothing cannot pass.
    for code in ("holdout", "deadline", "quiet_hours", "min_gap", "no_consent", "paused",
                 "provider_rate_limited", "template_too_slow", "exit_event", "erased",
                 "worker_lost", "interrupted", "consent", "existing_customer", "transactional"):
        assert code in codes, code


def test_every_recorded_reason_has_words():
    missing = {code: where for code, where in recorded_codes().items() if code not in REASON_WORDS}

    assert not missing, f"add these to REASON_WORDS in campaigns/admin/deliveries.py: {missing}"


def test_the_words_are_translatable_sentences_not_codes():
    for code, words in REASON_WORDS.items():
        assert isinstance(words, Promise), code
        assert "_" not in str(words), code
