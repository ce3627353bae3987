"""Errors as a Russian HTML page for people in a browser; JSON stays for programs.

A request gets the page when it is not for the API (``/api/``, the exchange's
``/peer/``, ``/healthz``) and its ``Accept`` header prefers HTML over JSON, as
browsers' do.  The JSON error (``{"error": …}``) is unchanged for everyone else.
"""

from __future__ import annotations

from flask import Response, render_template, request

MACHINE_PREFIXES = ("/api/", "/peer/", "/healthz")

TITLES = {
    400: "Неверный запрос",
    401: "Требуется вход",
    403: "Доступ запрещён",
    404: "Страница не найдена",
    405: "Действие не поддерживается",
    408: "Время ожидания истекло",
    409: "Конфликт",
    410: "Документ уничтожен",
    413: "Файл слишком большой",
    415: "Неподдерживаемый формат",
    422: "Документ не принят",
    429: "Слишком много запросов",
    500: "Внутренняя ошибка сервиса",
    503: "Сервис временно недоступен",
}
MESSAGES = {
    400: "Запрос не может быть обработан. Проверьте введённые данные и повторите попытку.",
    401: "Войдите в систему, чтобы открыть эту страницу.",
    403: "У вас нет прав на это действие.",
    404: "Такой страницы нет. Проверьте адрес или воспользуйтесь меню.",
    405: "Эта страница не поддерживает такое действие.",
    408: "Запрос не был получен полностью. Повторите попытку.",
    409: "Действие противоречит уже выполненному. Обновите страницу.",
    410: "Документ уничтожен по истечении срока хранения (пункт 5 статьи 11 Соглашения).",
    413: "Файл больше допустимого размера.",
    415: "Формат файла не поддерживается.",
    422: "Документ не может быть принят.",
    429: "Повторите попытку немного позже.",
    500: "Произошла внутренняя ошибка. Сообщите администратору идентификатор запроса.",
    503: "Сервис временно недоступен. Повторите попытку через несколько секунд.",
}


def wants_html() -> bool:
    """True for a browser's request of a page (see the module's docstring)."""
    if request.path.startswith(MACHINE_PREFIXES):
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html" and request.accept_mimetypes["text/html"] > 0


def html_error(status: int, detail: str | None = None) -> Response:
    """The Russian error page for ``status``; ``detail`` (the technical message) is shown
    small under the plain sentence."""
    body = render_template(
        "error.html",
        status=status,
        title=TITLES.get(status, "Ошибка"),
        message=MESSAGES.get(status, "Запрос не может быть выполнен."),
        detail=detail,
    )
    return Response(body, status=status, mimetype="text/html")
