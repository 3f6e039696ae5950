/** The widget's texts in Russian and English (the page's language, else the browser's). */

const en = {
  open: "Chat with us",
  close: "Close the chat",
  title: "Chat",
  intro: "Leave your details and we will answer here.",
  name: "Name",
  email: "E-mail",
  phone: "Phone",
  topic: "Topic",
  consent: "I agree to the processing of my data",
  start: "Start the chat",
  message: "Your message",
  send: "Send",
  sending: "Sending…",
  failed: "Not sent. Tap to retry.",
  offline: "Reconnecting…",
  empty: "Write your question: an operator will answer here.",
  you: "You",
  operator: "Support",
  error: "Something went wrong:",
  required: "required",
  network: "the chat server cannot be reached",
  attach: "Attach a file",
  operator_typing: "Support is typing…",
  uploading: "Uploading",
  too_large: "The file is larger than 10 MB.",
  wrong_type: "This kind of file cannot be sent: send an image, a PDF, an office document or a text file.",
  survey_rate: "Rate the answer",
  survey_thanks: "Thank you for your rating!",
  survey_closed: "This survey is closed.",
};

const ru: typeof en = {
  open: "Напишите нам",
  close: "Закрыть чат",
  title: "Чат",
  intro: "Оставьте контакты, и мы ответим здесь.",
  name: "Имя",
  email: "E-mail",
  phone: "Телефон",
  topic: "Тема",
  consent: "Согласен на обработку персональных данных",
  start: "Начать чат",
  message: "Ваше сообщение",
  send: "Отправить",
  sending: "Отправляется…",
  failed: "Не отправлено. Нажмите, чтобы повторить.",
  offline: "Переподключение…",
  empty: "Напишите вопрос: оператор ответит здесь.",
  you: "Вы",
  operator: "Поддержка",
  error: "Что-то пошло не так:",
  required: "обязательно",
  network: "сервер чата недоступен",
  attach: "Прикрепить файл",
  operator_typing: "Поддержка печатает…",
  uploading: "Загружается",
  too_large: "Файл больше 10 МБ.",
  wrong_type: "Такой файл отправить нельзя: отправьте изображение, PDF, офисный документ или текстовый файл.",
  survey_rate: "Оцените ответ",
  survey_thanks: "Спасибо за оценку!",
  survey_closed: "Этот опрос закрыт.",
};

export type TextKey = keyof typeof en;

export function widgetLang(explicit?: string | null): "ru" | "en" {
  const tag = (explicit || document.documentElement.lang || navigator.language || "en").toLowerCase();
  return tag.startsWith("ru") ? "ru" : "en";
}

export function texts(lang: "ru" | "en"): typeof en {
  return lang === "ru" ? ru : en;
}
