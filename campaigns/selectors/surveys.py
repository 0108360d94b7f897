"""Reads for survey pages: the wording of a question in the customer's language."""
from campaigns.models import SurveyQuestion

# Built-in wording, used where the admin has not written a SurveyQuestion for the language.
DEFAULT_QUESTIONS = {
    "en": {
        "nps": ("How likely are you to recommend us to a friend or colleague?",
                "Not at all likely", "Extremely likely"),
        "csat": ("How satisfied were you with your order?", "Very dissatisfied", "Very satisfied"),
        "ces": ("How easy was it to place your order?", "Very difficult", "Very easy"),
    },
    "sv": {
        "nps": ("Hur troligt är det att du skulle rekommendera oss till en vän eller kollega?",
                "Inte alls troligt", "Mycket troligt"),
        "csat": ("Hur nöjd var du med din beställning?", "Mycket missnöjd", "Mycket nöjd"),
        "ces": ("Hur enkelt var det att göra din beställning?", "Mycket svårt", "Mycket enkelt"),
    },
    "nb": {
        "nps": ("Hvor sannsynlig er det at du vil anbefale oss til en venn eller kollega?",
                "Svært lite sannsynlig", "Svært sannsynlig"),
        "csat": ("Hvor fornøyd var du med bestillingen din?", "Svært misfornøyd", "Svært fornøyd"),
        "ces": ("Hvor enkelt var det å bestille?", "Svært vanskelig", "Svært enkelt"),
    },
}
SURVEY_LOCALES = tuple(DEFAULT_QUESTIONS)


def survey_locale(locale: str) -> str:
    """The survey language for a customer locale such as "sv-SE": sv, nb or else en."""
    base = (locale or "").split("-")[0].split("_")[0].lower()
    if base == "no":
        base = "nb"
    return base if base in DEFAULT_QUESTIONS else "en"


def survey_question_text(*, kind: str, locale: str) -> dict:
    """{question, low_label, high_label} for `kind` in the language of `locale`: the admin's
    wording when there is one, else the built-in wording."""
    language = survey_locale(locale)
    row = SurveyQuestion.objects.filter(kind=kind, locale=language).first()
    if row is not None:
        return {"question": row.question, "low_label": row.low_label, "high_label": row.high_label}
    question, low, high = DEFAULT_QUESTIONS[language][kind]
    return {"question": question, "low_label": low, "high_label": high}
