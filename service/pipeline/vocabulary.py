"""Russian wording for every closed list of the schemas (Art. 2–6, 9.5, 10, 11).

The codes are the schema's enumeration values; the texts are what the documents print.
A test checks that every enumeration value in ``schemas/`` has a label here.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.pipeline.countries import COUNTRIES_RU


@dataclass(frozen=True)
class Authority:
    """A competent authority of Art. 2."""

    code: str
    country: str
    """ISO 3166-1 alpha-2 code of the Party: ``KZ`` or ``BY``."""
    name_ru: str
    """Full Russian name, nominative case."""
    short_ru: str


AUTHORITIES: dict[str, Authority] = {
    a.code: a
    for a in (
        Authority("KZ-MVD", "KZ", "Министерство внутренних дел Республики Казахстан", "МВД РК"),
        Authority(
            "KZ-MTSZN",
            "KZ",
            "Министерство труда и социальной защиты населения Республики Казахстан",
            "МТСЗН РК",
        ),
        Authority("BY-MVD", "BY", "Министерство внутренних дел Республики Беларусь", "МВД РБ"),
        Authority(
            "BY-GPK",
            "BY",
            "Государственный пограничный комитет Республики Беларусь",
            "ГПК РБ",
        ),
    )
}

DOCUMENT_TITLES: dict[str, str] = {
    "request": "Запрос",
    "response": "Ответ на запрос",
    "refusal-notice": "Уведомление об отказе в исполнении запроса",
    "additional-information-request": "Запрос о предоставлении дополнительных сведений",
    "delay-notice": "Уведомление о препятствиях или задержке исполнения запроса",
    "postponement-notice": "Уведомление об отложении исполнения запроса или об условиях "
    "его исполнения",
    "authenticity-confirmation-request": "Запрос о подтверждении подлинности документа",
    "authenticity-confirmation": "Ответ на запрос о подтверждении подлинности документа",
    "unsolicited-information": "Информация, направляемая без запроса",
    "confidentiality-notice": "Уведомление о невозможности исполнения запроса с сохранением "
    "конфиденциальности",
    "third-party-consent-request": "Запрос о согласии на передачу сведений третьей стороне",
    "third-party-consent": "Ответ на запрос о согласии на передачу сведений третьей стороне",
    "additional-information": "Представление дополнительных сведений к запросу",
    "conditions-decision": "Ответ об условиях исполнения запроса",
    "confidentiality-decision": "Решение об исполнении запроса без сохранения конфиденциальности",
    "request-withdrawal": "Уведомление об отзыве запроса",
}

RUNNING_TITLES: dict[str, str] = {
    "request": "Запрос",
    "response": "Ответ",
    "refusal-notice": "Уведомление об отказе",
    "additional-information-request": "Запрос дополнительных сведений",
    "delay-notice": "Уведомление о задержке",
    "postponement-notice": "Уведомление об отложении",
    "authenticity-confirmation-request": "Запрос о подтверждении подлинности",
    "authenticity-confirmation": "Ответ о подлинности",
    "unsolicited-information": "Информация без запроса",
    "confidentiality-notice": "Уведомление о конфиденциальности",
    "third-party-consent-request": "Запрос согласия на передачу",
    "third-party-consent": "Ответ о согласии на передачу",
    "additional-information": "Дополнительные сведения",
    "conditions-decision": "Ответ об условиях",
    "confidentiality-decision": "Решение о конфиденциальности",
    "request-withdrawal": "Отзыв запроса",
}
"""Short names for the running header, which must fit on one line with both numbers."""

REPLIES_TO_REQUESTS = frozenset(
    {
        "response",
        "refusal-notice",
        "additional-information-request",
        "delay-notice",
        "postponement-notice",
        "confidentiality-notice",
    }
)
"""Types whose ``inReplyTo`` is always a request («… на запрос № …»)."""

CONFIDENTIALITY: dict[str, str] = {
    "confidential": "Конфиденциально",
    "official-use": "Для служебного пользования",
}

CATEGORIES: dict[str, str] = {
    "temporary-stay": "временно пребывающий на территории государства Стороны",
    "residence-permit": "получивший разрешение на временное или постоянное проживание",
    "citizenship": "принятый или восстановленный в гражданстве государства Стороны",
    "entry-ban-exit-restriction": "в отношении которого принято решение о запрете на въезд "
    "либо ограничении выезда",
    "expelled": "выдворенный с территории государства Стороны",
}
"""Art. 5 categories, masculine (also for a person whose sex is not given)."""

CATEGORIES_FEMALE: dict[str, str] = {
    "temporary-stay": "временно пребывающая на территории государства Стороны",
    "residence-permit": "получившая разрешение на временное или постоянное проживание",
    "citizenship": "принятая или восстановленная в гражданстве государства Стороны",
    "entry-ban-exit-restriction": "в отношении которой принято решение о запрете на въезд "
    "либо ограничении выезда",
    "expelled": "выдворенная с территории государства Стороны",
}
"""Art. 5 categories agreeing with a person of female sex."""

TOPICS: dict[str, str] = {
    "statistical-legal-methodological": "Обмен статистической, правовой и научно-методической "
    "информацией (подпункт 1 пункта 1 статьи 3)",
    "citizens-information": "Обмен сведениями о гражданах государств Сторон, находящихся на "
    "территориях государств Сторон (подпункт 2 пункта 1 статьи 3)",
    "experience-and-assistance": "Обмен опытом и оказание практической помощи по вопросам, "
    "возникающим в процессе сотрудничества (подпункт 3 пункта 1 статьи 3)",
    "citizens-rights-protection": "Защита прав граждан государств Сторон, в том числе прав "
    "членов их семей на проживание (подпункт 4 пункта 1 статьи 3)",
    "legal-status": "Правовой статус лиц, имеющих основания для пребывания (проживания) "
    "(подпункт 5 пункта 1 статьи 3)",
    "other-cooperation": "Иные взаимоприемлемые направления сотрудничества (пункт 2 статьи 3)",
    "migration-law-violations": "Выявленные нарушения миграционного законодательства "
    "и каналы незаконной миграции (статья 4)",
    "illegal-migration-organisers": "Юридические и физические лица, причастные к организации "
    "и осуществлению незаконной миграции (статья 4)",
    "visa-and-document-misuse": "Способы получения въездных виз, иных документов и их "
    "использования в целях незаконной миграции (статья 4)",
    "migration-legislation": "Миграционное законодательство государств Сторон (статья 4)",
    "prevention-practice": "Практика и меры, направленные на предупреждение незаконной "
    "миграции (статья 4)",
    "external-migration-regulation": "Методы регулирования внешней миграции (статья 4)",
    "staff-training": "Подготовка и повышение квалификации сотрудников, семинары и стажировки "
    "(подпункт 1 статьи 7)",
    "working-groups-and-experts": "Создание рабочих групп и обмен экспертами (подпункт 2 статьи 7)",
    "conferences-and-seminars": "Научно-практические конференции, семинары и другие формы "
    "сотрудничества, требующие совместных действий (подпункт 3 статьи 7)",
    "familiarisation-visits": "Ознакомление с работой территориальных органов, "
    "подведомственных организаций и учреждений компетентных органов (подпункт 4 статьи 7)",
    "joint-projects": "Совместные проекты с участием международных организаций "
    "(подпункт 5 статьи 7)",
}

LEGAL_ENTITY_TOPICS = frozenset(
    {"migration-law-violations", "illegal-migration-organisers", "visa-and-document-misuse"}
)
"""Topics of Art. 4 under which a document may name legal entities (``legalEntities``)."""

DATA_ITEMS: dict[str, str] = {
    "names": "фамилия, имя, отчество в русском и латинском написании",
    "sex": "пол",
    "birth": "дата и место рождения",
    "citizenship": "гражданство",
    "identity-documents": "серия, номер, дата выдачи, орган, выдавший документ",
    "administrative-liability": "сведения о привлечении к административной ответственности",
    "criminal-liability": "сведения о привлечении к уголовной ответственности",
    "residence": "сведения о месте жительства",
    "residence-permits": "сведения о наличии разрешения на временное и постоянное проживание",
    "travel-restrictions": "сведения о решениях о запрете на въезд либо ограничении выезда",
    "photo": "фотографическое изображение",
    "fingerprint-card": "дактилоскопическая карта",
}

SEX: dict[str, str] = {"male": "мужской", "female": "женский"}

IDENTITY_DOCUMENT_KINDS: dict[str, str] = {
    "travel-document": "документ для выезда за границу",
    "residence-identity-document": "документ, удостоверяющий личность, для проживания",
}

RESIDENCE_PERMIT_KINDS: dict[str, str] = {
    "temporary": "разрешение на временное проживание",
    "permanent": "разрешение на постоянное проживание",
}

TRAVEL_RESTRICTION_KINDS: dict[str, str] = {
    "entry-ban": "запрет на въезд",
    "exit-restriction": "ограничение выезда",
}

RESPONSE_OUTCOMES: dict[str, str] = {
    "full": "Запрос исполнен в полном объёме.",
    "partial": "Запрос исполнен частично.",
}

REFUSAL_SCOPES: dict[str, str] = {
    "full": "в исполнении запроса отказано полностью",
    "partial": "в исполнении запроса отказано частично",
}

REFUSAL_GROUNDS: dict[str, str] = {
    "sovereignty": "исполнение запроса может нанести ущерб суверенитету государства",
    "security": "исполнение запроса может нанести ущерб безопасности государства",
    "public-order": "исполнение запроса может нанести ущерб общественному порядку",
    "other-essential-interests": "исполнение запроса может нанести ущерб иным существенным "
    "интересам государства",
    "contrary-to-legislation": "исполнение запроса противоречит законодательству государства "
    "запрашиваемой Стороны",
    "contrary-to-international-obligations": "исполнение запроса противоречит международным "
    "обязательствам государства запрашиваемой Стороны",
}

DELAY_CIRCUMSTANCES: dict[str, str] = {
    "prevents-execution": "препятствующие исполнению запроса",
    "delays-execution": "существенно задерживающие исполнение запроса",
}

POSTPONEMENT_KINDS: dict[str, str] = {
    "postpone": "исполнение запроса отложено",
    "conditions": "исполнение запроса связано с соблюдением определённых условий",
}

POSTPONEMENT_GROUNDS: dict[str, str] = {
    "criminal-prosecution": "исполнение запроса может помешать уголовному преследованию, "
    "осуществляемому на территории государства запрашиваемой Стороны",
    "other-proceedings": "исполнение запроса может помешать иному производству, "
    "осуществляемому на территории государства запрашиваемой Стороны",
}

AUTHENTICITY_DOUBTS: dict[str, str] = {
    "authenticity": "подлинности документа",
    "content": "содержании документа",
    "authenticity-and-content": "подлинности и содержании документа",
}
"""Printed after «сомнения в …» (prepositional case)."""

CONSENT_DECISIONS: dict[str, str] = {
    "granted": "согласие на передачу сведений третьей стороне дано",
    "denied": "в согласии на передачу сведений третьей стороне отказано",
}

CONDITIONS_DECISIONS: dict[str, str] = {
    "accepted": "условия исполнения запроса принимаются",
    "declined": "условия исполнения запроса не принимаются; запрос на таких условиях "
    "исполнять не следует",
}

CONFIDENTIALITY_DECISIONS: dict[str, str] = {
    "proceed": "запрос следует исполнить на таких условиях",
    "withdraw": "запрос на таких условиях исполнять не следует",
}

AGREEMENT_TITLE = (
    "Соглашение между Правительством Республики Казахстан и Правительством Республики "
    "Беларусь о сотрудничестве в области миграции"
)
"""The Agreement's title exactly as signed (approved by decree No. 703 of 25.09.2019)."""

PURPOSE_LIMITATION_CLAUSE = (
    "Результаты исполнения запроса, полученные на основании Соглашения между Правительством "
    "Республики Казахстан и Правительством Республики Беларусь о сотрудничестве в области "
    "миграции, без согласия представившей их Стороны не могут быть использованы в иных "
    "целях, чем те, в которых они запрашивались и были представлены (пункт 2 статьи 11 "
    "Соглашения). Для передачи третьей стороне сведений, полученных на основании "
    "Соглашения, требуется предварительное согласие Стороны, представившей сведения "
    "(пункт 3 статьи 11 Соглашения)."
)
"""Art. 11.2 and 11.3 in the Agreement's own words."""


def country_name(code: str) -> str:
    """Russian name of an ISO alpha-3 country code (unknown codes are refused at intake)."""
    return COUNTRIES_RU.get(code, code)


def category_name(code: str, sex: str | None) -> str:
    """The Art. 5 category agreeing with the person's sex."""
    table = CATEGORIES_FEMALE if sex == "female" else CATEGORIES
    return table.get(code, code)
