/**
 * A labelled, synthetic mail corpus for measuring the spam filter: deterministic for a seed, built from
 * templates and word banks (no real mail). Ham: personal mail and replies in English, German, French,
 * Spanish, Japanese and Russian, newsletters (HTML with List-Unsubscribe), receipts and shipping notices,
 * mailing-list traffic with code and patches, work mail with attachments, notifications and calendar
 * invitations. Spam: phishing (look-alike domains, link text that names another host, forms), pharma with
 * obfuscation (digits for letters, spelled-out letters, invisible characters), lottery and advance-fee
 * fraud, crypto investment, image-heavy and HTML-only mail with hidden random text (statistics poisoning),
 * fake invoices with executable or archive attachments, and Russian and Chinese spam.
 *
 * Both classes share vocabulary on purpose (ham newsletters say "offer" and "free", spam copies receipt
 * wording and borrows ham words), some spam passes SPF and DKIM for its own throw-away domains, and some ham
 * fails authentication (forwarded mail, lists that break signatures). Each message comes with the
 * Authentication-Results value a receiving MX would have recorded for it.
 */
import { rng } from './corpus.js';

export interface CorpusMessage {
  raw: Buffer;
  spam: boolean;
  kind: string;
  /** The Authentication-Results value (authserv-id first) the MX recorded. */
  authResults: string;
}


type R = () => number;
const pick = <T>(r: R, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: R, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const chance = (r: R, p: number): boolean => r() < p;
const some = <T>(r: R, xs: readonly T[], n: number): T[] => Array.from({ length: n }, () => pick(r, xs));

const FIRST = ['Anna', 'Ben', 'Clara', 'David', 'Emma', 'Felix', 'Grace', 'Hannah', 'Ivan', 'Julia', 'Karl', 'Lena', 'Marco', 'Nina', 'Oscar', 'Paula', 'Rafael', 'Sofia', 'Tom', 'Yuki', 'Hiro', 'Olga', 'Pierre', 'Lucía', 'Jürgen', 'Amélie', 'Sven', 'Mei', 'Omar', 'Priya'];
const LAST = ['Smith', 'Müller', 'Dubois', 'García', 'Tanaka', 'Ivanova', 'Rossi', 'Nowak', 'Jensen', 'Kowalski', 'Brown', 'Schmidt', 'Martin', 'López', 'Sato', 'Petrov', 'Khan', 'Patel', 'Novak', 'Berg'];
const PERSONAL_DOMAINS = ['gmail.example', 'posteo.example', 'web.example', 'orange.example', 'yandex.example', 'fastmail.example', 'mailbox.example', 'outlook.example'];
const COMPANY_DOMAINS = ['acme-corp.example', 'northwind.example', 'contoso.example', 'globex.example', 'initech.example', 'umbrella-labs.example'];
const SHOPS = [
  { name: 'BookNook', domain: 'booknook.example' },
  { name: 'Gadget Hub', domain: 'gadgethub.example' },
  { name: 'Fresh Groceries', domain: 'freshgrocer.example' },
  { name: 'RailTickets', domain: 'railtix.example' },
  { name: 'CloudHost', domain: 'cloudhost.example' },
  { name: 'Outdoor Store', domain: 'outdoorstore.example' },
];
const NEWSLETTERS = [
  { name: 'The Weekly Byte', domain: 'weeklybyte.example', topic: ['release', 'compiler', 'database', 'performance', 'security', 'open source', 'benchmark', 'kernel'] },
  { name: 'City Museum', domain: 'citymuseum.example', topic: ['exhibition', 'gallery', 'opening', 'painting', 'sculpture', 'tour', 'members', 'lecture'] },
  { name: 'Garden Monthly', domain: 'gardenmonthly.example', topic: ['tomatoes', 'compost', 'seeds', 'pruning', 'spring', 'roses', 'soil', 'harvest'] },
  { name: 'Running Club', domain: 'runclub.example', topic: ['marathon', 'training', 'route', 'race', 'stretching', 'shoes', 'pace', 'trail'] },
  { name: 'Local News', domain: 'localnews.example', topic: ['council', 'school', 'traffic', 'weather', 'festival', 'library', 'budget', 'park'] },
];
const LISTS = [
  { id: 'dev.lists.projectx.example', name: 'projectx-dev', words: ['patch', 'commit', 'regression', 'merge', 'branch', 'review', 'refactor', 'buffer', 'pointer', 'struct', 'function', 'segfault', 'upstream', 'changelog'] },
  { id: 'users.lists.distro.example', name: 'distro-users', words: ['package', 'install', 'upgrade', 'kernel', 'driver', 'config', 'systemd', 'repository', 'mirror', 'dependency', 'boot', 'partition'] },
  { id: 'astro.lists.club.example', name: 'astro-club', words: ['telescope', 'nebula', 'eyepiece', 'observation', 'jupiter', 'clouds', 'tripod', 'exposure', 'galaxy', 'meteor'] },
];

const EN_CASUAL = [
  'Hi {name}, how are you doing?', 'Thanks for dinner last night, it was lovely.', 'Are we still on for {day}?', 'I found the photos from the trip, sending a few.',
  'Can you pick up the kids at {time}?', 'Mum says hello and asks when you visit next.', 'The plumber is coming {day} morning.', 'I finished the book you lent me, loved the ending.',
  'Let me know if you need a hand with the move.', 'We should plan the birthday party soon.', 'My train is late again, see you around {time}.', 'Did you see the match yesterday?',
  'The recipe needs two eggs and a cup of flour.', 'I booked the cabin for the weekend.', 'Happy anniversary to you both!', 'Could you water the plants while I am away?',
];
const DE_CASUAL = ['Hallo {name}, wie geht es dir?', 'Danke für das schöne Wochenende.', 'Sehen wir uns am {day}?', 'Ich schicke dir die Fotos vom Urlaub.', 'Kannst du die Kinder um {time} abholen?', 'Der Zug hat wieder Verspätung.', 'Wir sollten die Geburtstagsfeier planen.', 'Viele Grüße an deine Eltern.'];
const FR_CASUAL = ['Salut {name}, comment ça va ?', 'Merci pour le dîner, c’était délicieux.', 'On se voit toujours {day} ?', 'Je t’envoie les photos des vacances.', 'Peux-tu récupérer les enfants à {time} ?', 'Le train est encore en retard.', 'Bisous à toute la famille.'];
const ES_CASUAL = ['Hola {name}, ¿qué tal?', 'Gracias por la cena de anoche.', '¿Seguimos quedando el {day}?', 'Te mando las fotos del viaje.', '¿Puedes recoger a los niños a las {time}?', 'Un abrazo a tu familia.'];
const JA_CASUAL = ['{name}さん、お元気ですか。', '昨日はありがとうございました。', '来週の会議の資料を送ります。', '週末に京都へ行く予定です。', '写真を添付しました。', 'よろしくお願いします。'];
const RU_CASUAL = ['Привет, {name}! Как дела?', 'Спасибо за вчерашний ужин.', 'Встречаемся в {day}?', 'Отправляю фотографии из поездки.', 'Передай привет родителям.'];
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const WORK = ['Please find the quarterly report attached.', 'Can we move the meeting to {time}?', 'The client approved the design draft.', 'I updated the project plan with the new milestones.', 'Reminder: budget review on {day}.', 'Let us sync about the deployment schedule.', 'The invoice from the supplier needs your approval.', 'Great work on the presentation today.', 'Could you review the contract before {day}?', 'The server migration finished without issues.'];

const PHISH_BRANDS = [
  { brand: 'PayPaI', real: 'paypal', fake: ['paypal-secure-login.example-verify.top', 'paypa1-account.support.example'] },
  { brand: 'Amazon', real: 'amazon', fake: ['amaz0n-billing.example.ru', 'amazon.account-update.example.xyz'] },
  { brand: 'Microsoft 365', real: 'microsoft', fake: ['office365-mail.example.click', 'login-microsoftonline.example.top'] },
  { brand: 'Your Bank', real: 'bank', fake: ['secure-bank-verify.example.cc', 'online-banking.example-alert.info'] },
  { brand: 'Netflix', real: 'netflix', fake: ['netflix-billing.example.xyz', 'nflx-payments.example.top'] },
];
const PHISH_LINES = [
  'Your account has been suspended due to unusual activity.', 'We were unable to verify your payment information.', 'Please confirm your identity within 24 hours to avoid permanent closure.',
  'Click the link below to restore full access.', 'Failure to verify will result in account termination.', 'Unauthorized login attempt detected from a new device.',
  'Update your billing details immediately.', 'Your mailbox storage is full, verify now to keep receiving mail.', 'Security alert: confirm your password.',
];
const PHARMA = ['viagra', 'cialis', 'levitra', 'xanax', 'tramadol', 'valium', 'phentermine', 'oxycodone'];
const PHARMA_LINES = ['Best prices on {drug} without prescription!', 'Order {drug} online, discreet shipping worldwide.', 'Save up to 80% on brand {drug}.', 'Licensed pharmacy, {drug} from $0.99 per pill.', 'No doctor visit needed for {drug}.', 'Boost your performance tonight.'];
const LOTTERY = ['Congratulations! Your email address has won the sum of {money} in our international lottery.', 'You have been selected as the beneficiary of {money} left by a deceased client.', 'Kindly send your full name, address and phone number to claim your prize.', 'This transaction is 100% risk free and confidential.', 'I am a barrister and I need your assistance to transfer {money} out of the country.', 'Contact our claims agent immediately with your reference number.', 'Your winning ticket number is {num}.'];
const CRYPTO = ['Turn $250 into {money} in just 7 days with our AI trading bot.', 'Bitcoin is about to explode, do not miss the next 100x coin.', 'Guaranteed daily returns of {pct}% on your crypto investment.', 'Join thousands of members earning passive income.', 'Limited spots left, register now and get a free bonus.', 'Elon just announced it, the presale ends tonight.', 'Withdraw your profits any time to your wallet.'];
const SEO = ['We can put your website on the first page of search results.', 'Our agency offers cheap backlinks and guaranteed traffic.', 'Reply to this email for a free website audit.', 'We noticed your website is not ranking well.'];
const SPAM_SUBJECT_BITS = ['URGENT', 'Act now', 'Limited time', 'Final notice', 'You won', 'Exclusive offer', 'Re: your account', 'Important update', 'Congratulations', 'Free gift'];
const RU_SPAM = ['Заработок в интернете от 5000 рублей в день!', 'Только сегодня скидка 90% на все товары.', 'Кредит без справок и поручителей.', 'Ваш выигрыш ждёт вас, нажмите здесь.'];
const ZH_SPAM = ['低价出售各类发票，欢迎来电咨询。', '网上赚钱，每天轻松收入过千。', '恭喜您获得大奖，请点击领取。', '代开发票，税点优惠。'];
const HAM_FILLER = ['meeting', 'weather', 'garden', 'project', 'family', 'weekend', 'coffee', 'library', 'football', 'holiday', 'recipe', 'concert', 'school', 'bicycle', 'kitchen', 'museum', 'review', 'question', 'schedule', 'report'];
const SPAMMY_TLDS = ['top', 'xyz', 'click', 'ru', 'cc', 'info', 'biz', 'work', 'loan'];

function fill(r: R, s: string, name = pick(r, FIRST)): string {
  return s
    .replace(/\{name\}/g, name)
    .replace(/\{day\}/g, pick(r, DAYS))
    .replace(/\{time\}/g, `${int(r, 7, 20)}:${pick(r, ['00', '15', '30', '45'])}`)
    .replace(/\{money\}/g, `${pick(r, ['$', '€', 'USD ', 'GBP '])}${int(r, 1, 9)},${int(r, 100, 999)},000`)
    .replace(/\{num\}/g, String(int(r, 100000, 999999)))
    .replace(/\{pct\}/g, String(int(r, 3, 40)))
    .replace(/\{drug\}/g, pick(r, PHARMA));
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64').replace(/.{76}/g, '$&\r\n');
const qp = (s: string): string =>
  Buffer.from(s, 'utf8')
    .toString('latin1')
    .replace(/[=\u0080-\u00ff]/g, (c) => '=' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
const encWord = (s: string): string => (/^[\x20-\x7e]*$/.test(s) ? s : `=?UTF-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`);

interface Head {
  from: string;
  fromAddr: string;
  to: string;
  subject: string;
  extra?: string[];
  date: Date;
  msgIdDomain: string;
}

function header(r: R, h: Head): string {
  const lines = [
    `From: ${encWord(h.from)} <${h.fromAddr}>`,
    `To: ${h.to}`,
    `Subject: ${encWord(h.subject)}`,
    `Date: ${h.date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${int(r, 1e8, 9e8).toString(36)}.${int(r, 1e5, 9e5)}@${h.msgIdDomain}>`,
    'MIME-Version: 1.0',
    ...(h.extra ?? []),
  ];
  return lines.join('\r\n') + '\r\n';
}

function textPart(text: string, charset = 'utf-8', enc: '8bit' | 'quoted-printable' | 'base64' | '7bit' = '8bit', subtype = 'plain'): string {
  const body = enc === 'base64' ? b64(text) : enc === 'quoted-printable' ? qp(text) : text;
  return `Content-Type: text/${subtype}; charset=${charset}\r\nContent-Transfer-Encoding: ${enc}\r\n\r\n${body.replace(/\r?\n/g, '\r\n')}\r\n`;
}

function multipart(r: R, subtype: string, parts: string[]): string {
  const boundary = `=_b${int(r, 1e6, 9e6)}_${int(r, 1e6, 9e6)}`;
  return `Content-Type: multipart/${subtype}; boundary="${boundary}"\r\n\r\nThis is a multi-part message in MIME format.\r\n${parts.map((p) => `--${boundary}\r\n${p}`).join('')}--${boundary}--\r\n`;
}

function attachment(r: R, type: string, name: string, size: number): string {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = Math.floor(r() * 256);
  return `Content-Type: ${type}; name="${name}"\r\nContent-Disposition: attachment; filename="${name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${bytes.toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n`;
}

function auth(r: R, domain: string, spf: string, dkim: string, dmarc: string): string {
  return `mx.mailroom.example; spf=${spf} smtp.mailfrom=${domain}; dkim=${dkim} header.d=${domain}; dmarc=${dmarc} header.from=${domain}`;
}

function person(r: R): { name: string; addr: string; domain: string } {
  const first = pick(r, FIRST);
  const last = pick(r, LAST);
  const domain = pick(r, PERSONAL_DOMAINS);
  const local = `${first}.${last}`.toLowerCase().normalize('NFD').replace(/[^a-z.]/g, '');
  return { name: `${first} ${last}`, addr: `${local}@${domain}`, domain };
}

const ME = 'alex@mailroom.example';

function dateFor(r: R): Date {
  return new Date(Date.UTC(2026, int(r, 0, 10), int(r, 1, 28), int(r, 0, 23), int(r, 0, 59), int(r, 0, 59)));
}

// ---- ham ----

function hamPersonal(r: R): CorpusMessage {
  const p = person(r);
  const lang = pick(r, ['en', 'en', 'en', 'de', 'fr', 'es', 'ja', 'ru']);
  const bank = { en: EN_CASUAL, de: DE_CASUAL, fr: FR_CASUAL, es: ES_CASUAL, ja: JA_CASUAL, ru: RU_CASUAL }[lang]!;
  const lines = some(r, bank, int(r, 2, 6)).map((l) => fill(r, l, 'Alex'));
  if (lang === 'en' && chance(r, 0.3)) lines.push(`Also, ${pick(r, HAM_FILLER)} and ${pick(r, HAM_FILLER)} on ${pick(r, DAYS)}.`);
  const reply = chance(r, 0.4);
  let text = lines.join('\n') + `\n\n${p.name.split(' ')[0]}\n`;
  if (reply) text += `\nOn ${pick(r, DAYS)}, Alex wrote:\n> ${fill(r, pick(r, EN_CASUAL))}\n> ${fill(r, pick(r, EN_CASUAL))}\n`;
  const subjects = { en: ['Weekend', 'Photos', 'Dinner', 'Quick question', 'Plans for Saturday', 'Hello'], de: ['Wochenende', 'Fotos', 'Kurze Frage'], fr: ['Week-end', 'Photos', 'Petite question'], es: ['Fin de semana', 'Fotos', 'Pregunta'], ja: ['週末の予定', '写真', 'お礼'], ru: ['Выходные', 'Фотографии', 'Вопрос'] }[lang]!;
  const subject = (reply ? 'Re: ' : '') + pick(r, subjects);
  const enc = lang === 'ja' || lang === 'ru' ? pick(r, ['base64', '8bit'] as const) : pick(r, ['8bit', 'quoted-printable', '7bit'] as const);
  const extra = [`User-Agent: ${pick(r, ['Thunderbird 128.3', 'K-9 Mail 6.8', 'Apple Mail (2.3774)', 'Roundcube Webmail/1.6'])}`];
  if (reply) extra.push(`In-Reply-To: <${int(r, 1e6, 9e6)}@mailroom.example>`, `References: <${int(r, 1e6, 9e6)}@mailroom.example>`);
  const body = textPart(text, 'utf-8', enc === '7bit' && /[^\x00-\x7f]/.test(text) ? 'quoted-printable' : enc);
  const raw = header(r, { from: p.name, fromAddr: p.addr, to: `Alex <${ME}>`, subject, date: dateFor(r), msgIdDomain: p.domain, extra: [...extra, ...(chance(r, 0.3) ? [`Cc: ${person(r).addr}`] : [])] }) + body;
  const forwarded = chance(r, 0.08);
  return { raw: Buffer.from(raw), spam: false, kind: `personal-${lang}`, authResults: forwarded ? auth(r, p.domain, 'fail', 'none', 'fail') : auth(r, p.domain, 'pass', pick(r, ['pass', 'pass', 'none']), 'pass') };
}

function hamNewsletter(r: R): CorpusMessage {
  const n = pick(r, NEWSLETTERS);
  const items = some(r, n.topic, int(r, 3, 6));
  const heads = items.map((t) => `${pick(r, ['New', 'Our', 'This week:', 'Upcoming', 'Notes on the'])} ${t} ${pick(r, ['update', 'guide', 'event', 'story', 'season', 'tips'])}`);
  const para = items.map((t) => `Read about the ${t} and ${pick(r, n.topic)} in this issue. ${pick(r, ['Members get a free ticket.', 'Special offer for subscribers this month.', 'Join us for the talk.', 'Thanks for reading.', 'Photos from last week inside.'])}`);
  const text = `${n.name} - issue ${int(r, 10, 300)}\n\n${heads.map((h, i) => `${h}\n${para[i]}\nhttps://${n.domain}/articles/${items[i]!.replace(/ /g, '-')}-${int(r, 100, 999)}\n`).join('\n')}\nUnsubscribe: https://${n.domain}/unsubscribe?u=${int(r, 1e5, 9e5)}\n`;
  const html = `<html><body><table width="600"><tr><td><h1>${n.name}</h1>${heads.map((h, i) => `<h2>${h}</h2><p>${para[i]}</p><p><a href="https://${n.domain}/articles/${items[i]!.replace(/ /g, '-')}">Read more</a></p>`).join('')}${chance(r, 0.5) ? `<img src="https://cdn.${n.domain}/img/${int(r, 1, 99)}.jpg" width="600">` : ''}<p style="font-size:11px;color:#888">You receive this because you subscribed. <a href="https://${n.domain}/unsubscribe">Unsubscribe</a></p></td></tr></table></body></html>`;
  const raw =
    header(r, {
      from: n.name,
      fromAddr: `news@${n.domain}`,
      to: ME,
      subject: `${n.name}: ${heads[0]}`,
      date: dateFor(r),
      msgIdDomain: `mail.${n.domain}`,
      extra: [`List-Unsubscribe: <https://${n.domain}/unsubscribe>`, 'List-Unsubscribe-Post: List-Unsubscribe=One-Click', `List-Id: <newsletter.${n.domain}>`, 'Precedence: bulk', `DKIM-Signature: v=1; a=rsa-sha256; d=${n.domain}; s=mail; b=abc`],
    }) + multipart(r, 'alternative', [textPart(text, 'utf-8', 'quoted-printable'), textPart(html, 'utf-8', 'quoted-printable', 'html')]);
  return { raw: Buffer.from(raw), spam: false, kind: 'newsletter', authResults: auth(r, n.domain, 'pass', 'pass', 'pass') };
}

function hamReceipt(r: R): CorpusMessage {
  const s = pick(r, SHOPS);
  const order = `${int(r, 100, 999)}-${int(r, 1000000, 9999999)}`;
  const total = `${int(r, 5, 400)}.${int(r, 10, 99)}`;
  const shipped = chance(r, 0.4);
  const lines = [
    shipped ? `Good news! Your order ${order} has shipped.` : `Thank you for your order ${order}.`,
    `Order total: $${total}`,
    `Items: ${int(r, 1, 5)}`,
    shipped ? `Tracking number: 1Z${int(r, 1e8, 9e8)}` : 'We will let you know when it ships.',
    `View your order: https://www.${s.domain}/orders/${order}`,
    `Questions? Visit https://help.${s.domain}/contact`,
  ];
  const html = `<html><body><p>${lines.join('</p><p>')}</p><p><a href="https://www.${s.domain}/orders/${order}">View order</a></p></body></html>`;
  const body = chance(r, 0.5) ? multipart(r, 'alternative', [textPart(lines.join('\n')), textPart(html, 'utf-8', 'quoted-printable', 'html')]) : textPart(lines.join('\n'));
  const raw = header(r, { from: s.name, fromAddr: `orders@${s.domain}`, to: ME, subject: shipped ? `Your ${s.name} order has shipped` : `Your ${s.name} order confirmation ${order}`, date: dateFor(r), msgIdDomain: s.domain, extra: [`DKIM-Signature: v=1; a=rsa-sha256; d=${s.domain}; s=s1; b=xyz`] }) + body;
  return { raw: Buffer.from(raw), spam: false, kind: 'receipt', authResults: auth(r, s.domain, 'pass', 'pass', 'pass') };
}

function hamList(r: R): CorpusMessage {
  const l = pick(r, LISTS);
  const p = person(r);
  const words = some(r, l.words, int(r, 12, 30));
  let text = '';
  for (let i = 0; i < words.length; i += 4) text += `The ${words[i]} ${pick(r, ['breaks', 'fixes', 'changes', 'needs', 'affects'])} the ${words[i + 1] ?? 'build'} when ${words[i + 2] ?? 'testing'} ${words[i + 3] ?? 'it'}.\n`;
  if (l.name === 'projectx-dev' && chance(r, 0.5)) text += `\n--- a/src/${pick(r, words)}.c\n+++ b/src/${pick(r, words)}.c\n@@ -${int(r, 1, 300)},7 +${int(r, 1, 300)},8 @@\n-  if (len > max) return -1;\n+  if (len >= max)\n+    return -EINVAL;\n`;
  text += `\n--\n${l.name} mailing list\nhttps://lists.${l.id.split('.').slice(2).join('.')}/mailman/listinfo/${l.name}\n`;
  const reply = chance(r, 0.6);
  const raw =
    header(r, {
      from: p.name,
      fromAddr: p.addr,
      to: `${l.name}@${l.id.split('.').slice(2).join('.')}`,
      subject: `${reply ? 'Re: ' : ''}[${l.name}] ${pick(r, words)} ${pick(r, words)} ${pick(r, ['question', 'issue', 'proposal', 'v2', 'broken', 'help'])}`,
      date: dateFor(r),
      msgIdDomain: p.domain,
      extra: [`List-Id: ${l.name} <${l.id}>`, `List-Post: <mailto:${l.name}@${l.id.split('.').slice(2).join('.')}>`, 'Precedence: list', `Sender: ${l.name}-bounces@${l.id.split('.').slice(2).join('.')}`],
    }) + textPart(text, 'us-ascii', '7bit');
  // Lists rewrite messages: the author's DKIM signature often breaks and DMARC fails.
  return { raw: Buffer.from(raw), spam: false, kind: 'list', authResults: auth(r, p.domain, pick(r, ['pass', 'softfail']), pick(r, ['fail', 'pass', 'none']), pick(r, ['fail', 'pass', 'none'])) };
}

function hamWork(r: R): CorpusMessage {
  const dom = pick(r, COMPANY_DOMAINS);
  const first = pick(r, FIRST);
  const lines = some(r, WORK, int(r, 2, 4)).map((l) => fill(r, l));
  const text = `Hi Alex,\n\n${lines.join('\n')}\n\nBest regards,\n${first}\n${pick(r, ['Project Manager', 'Finance', 'Engineering', 'Sales'])}, ${dom.split('.')[0]}\n`;
  const att = chance(r, 0.5);
  const parts = [textPart(text, 'utf-8', 'quoted-printable')];
  if (att) parts.push(attachment(r, pick(r, ['application/pdf', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'text/csv']), `${pick(r, ['report', 'plan', 'minutes', 'budget', 'invoice'])}-${int(r, 1, 12)}.${pick(r, ['pdf', 'docx', 'csv'])}`, int(r, 200, 3000)));
  if (chance(r, 0.15)) parts.push(`Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\nBEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:${pick(r, ['Review', 'Sync', 'Planning'])}\r\nDTSTART:20261201T${int(r, 10, 17)}0000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`);
  const body = parts.length > 1 ? multipart(r, 'mixed', parts) : parts[0]!;
  const raw = header(r, { from: `${first} ${pick(r, LAST)}`, fromAddr: `${first.toLowerCase().normalize('NFD').replace(/[^a-z]/g, '')}@${dom}`, to: ME, subject: fill(r, pick(r, ['Quarterly report', 'Meeting on {day}', 'Project update', 'Invoice approval', 'Contract review', 'Deployment schedule'])), date: dateFor(r), msgIdDomain: dom, extra: ['X-Mailer: Microsoft Outlook 16.0', `Thread-Index: A${int(r, 1e9, 9e9)}`] }) + body;
  return { raw: Buffer.from(raw), spam: false, kind: 'work', authResults: auth(r, dom, 'pass', 'pass', 'pass') };
}

function hamNotification(r: R): CorpusMessage {
  const svc = pick(r, [
    { name: 'CodeForge', domain: 'codeforge.example', text: () => `${pick(r, FIRST)} commented on issue #${int(r, 1, 4000)}: "${pick(r, ['Looks good to me', 'Can you add a test?', 'This fixes the crash', 'Rebased on main'])}".\nView it on CodeForge: https://codeforge.example/projectx/issues/${int(r, 1, 4000)}` },
    { name: 'Calendar', domain: 'calendar.example', text: () => `Reminder: ${pick(r, ['Dentist', 'Team lunch', 'Yoga class', 'Parent evening'])} at ${int(r, 8, 19)}:00 on ${pick(r, DAYS)}.` },
    { name: 'Bank Alerts', domain: 'mybank.example', text: () => `A payment of EUR ${int(r, 5, 900)}.${int(r, 10, 99)} to ${pick(r, SHOPS).name} was made with your card ending ${int(r, 1000, 9999)}. If you did not make this payment, call the number on your card.` },
    { name: 'CloudHost', domain: 'cloudhost.example', text: () => `Your server backup completed at ${int(r, 0, 23)}:${int(r, 10, 59)}. Disk usage: ${int(r, 10, 95)}%.\nhttps://console.cloudhost.example/backups` },
  ]);
  const raw = header(r, { from: svc.name, fromAddr: `noreply@${svc.domain}`, to: ME, subject: `${svc.name}: ${pick(r, ['notification', 'reminder', 'alert', 'new activity'])}`, date: dateFor(r), msgIdDomain: svc.domain, extra: ['Auto-Submitted: auto-generated'] }) + textPart(svc.text());
  return { raw: Buffer.from(raw), spam: false, kind: 'notification', authResults: auth(r, svc.domain, 'pass', 'pass', 'pass') };
}

// ---- spam ----

function spamDomain(r: R): string {
  return `${pick(r, ['promo', 'deals', 'mail', 'info', 'secure', 'best', 'win', 'crypto', 'rx', 'news'])}${int(r, 1, 999)}.${pick(r, ['example', 'invalid'])}.${pick(r, SPAMMY_TLDS)}`;
}

/** Spammer's authentication: mostly none/fail, sometimes pass for its own throw-away domain. */
function spamAuth(r: R, domain: string): string {
  if (chance(r, 0.25)) return auth(r, domain, 'pass', pick(r, ['pass', 'none']), pick(r, ['pass', 'none']));
  return auth(r, domain, pick(r, ['softfail', 'fail', 'none', 'neutral']), pick(r, ['none', 'fail']), pick(r, ['fail', 'none']));
}

function obfuscate(r: R, w: string): string {
  switch (int(r, 0, 4)) {
    case 0:
      return w.replace(/i/g, '1').replace(/o/g, '0').replace(/a/g, '@');
    case 1:
      return w.split('').join(pick(r, ['.', ' ', '-', '*']));
    case 2:
      return w.split('').join('\u200b');
    case 3:
      return w.toUpperCase();
    default:
      return w;
  }
}

function poison(r: R, n: number): string {
  return some(r, [...HAM_FILLER, ...EN_CASUAL.join(' ').toLowerCase().split(/\W+/).filter((x) => x.length > 3)], n).join(' ');
}

function spamHtml(r: R, lines: string[], link: string, opts: { hidden?: boolean; images?: number; shownLink?: string }): string {
  const imgs = Array.from({ length: opts.images ?? 0 }, (_, i) => `<a href="${link}"><img src="https://${spamDomain(r)}/i/${i}${int(r, 1, 99)}.gif" width="600" height="${int(r, 100, 400)}"></a>`).join('');
  const hidden = opts.hidden ? `<div style="display:none">${poison(r, int(r, 30, 80))}</div>` : '';
  const shown = opts.shownLink ?? pick(r, ['Click here', 'Verify now', 'Claim your prize', 'Order now', 'Get started', 'Unsubscribe']);
  return `<html><body style="font-family:Arial">${imgs}${lines.map((l) => `<p><b>${l}</b></p>`).join('')}<p><a href="${link}" style="color:#fff;background:#d00;padding:10px">${shown}</a></p>${hidden}${chance(r, 0.3) ? '<p style="font-size:1px;color:#ffffff">' + poison(r, 20) + '</p>' : ''}</body></html>`;
}

function spamPhish(r: R): CorpusMessage {
  const b = pick(r, PHISH_BRANDS);
  const host = pick(r, b.fake);
  const link = `${pick(r, ['http', 'https'])}://${chance(r, 0.2) ? `${int(r, 11, 223)}.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 1, 254)}` : host}/${pick(r, ['login', 'verify', 'secure', 'account/update'])}?id=${int(r, 1e5, 9e5)}`;
  const lines = [`Dear ${pick(r, ['Customer', 'User', 'Valued Member', ME])},`, ...some(r, PHISH_LINES, int(r, 2, 4)), `${b.brand} Security Team`];
  const html = spamHtml(r, lines, link, { shownLink: chance(r, 0.5) ? `https://www.${b.real}.com/account` : 'Verify your account', hidden: chance(r, 0.3) });
  const body = chance(r, 0.6) ? textPart(html, 'utf-8', pick(r, ['quoted-printable', 'base64'] as const), 'html') : multipart(r, 'alternative', [textPart(lines.join('\n') + `\n${link}\n`), textPart(html, 'utf-8', 'quoted-printable', 'html')]);
  const d = chance(r, 0.5) ? host.split('.').slice(-3).join('.') : spamDomain(r);
  const raw = header(r, { from: `${b.brand} ${pick(r, ['Support', 'Security', 'Billing', 'Service'])}`, fromAddr: `${pick(r, ['no-reply', 'security', 'service', 'support'])}@${d}`, to: chance(r, 0.3) ? 'undisclosed-recipients:;' : ME, subject: `${pick(r, ['Action required', 'Your account is on hold', 'Security alert', 'Payment declined', 'Verify your account', 'Unusual sign-in activity'])}${chance(r, 0.4) ? ` [Case #${int(r, 1e5, 9e5)}]` : ''}`, date: dateFor(r), msgIdDomain: pick(r, [d, spamDomain(r), 'localhost']), extra: chance(r, 0.5) ? ['X-Priority: 1 (Highest)'] : [] }) + body;
  return { raw: Buffer.from(raw), spam: true, kind: 'phishing', authResults: spamAuth(r, d) };
}

function spamPharma(r: R): CorpusMessage {
  const drug = pick(r, PHARMA);
  const lines = some(r, PHARMA_LINES, int(r, 2, 4)).map((l) => fill(r, l).replace(drug, obfuscate(r, drug)));
  const d = spamDomain(r);
  const link = `http://${spamDomain(r)}/${pick(r, ['rx', 'shop', 'pills', 'order'])}/${int(r, 1, 999)}`;
  const htmlOnly = chance(r, 0.6);
  const body = htmlOnly ? textPart(spamHtml(r, lines, link, { hidden: chance(r, 0.5), images: int(r, 0, 2) }), 'utf-8', pick(r, ['quoted-printable', 'base64', '7bit'] as const), 'html') : textPart(`${lines.join('\n')}\n${link}\n\n${chance(r, 0.5) ? poison(r, 25) : ''}`, 'us-ascii', '7bit');
  const raw = header(r, { from: pick(r, ['Online Pharmacy', 'Dr. ' + pick(r, LAST), 'Canadian Meds', pick(r, FIRST)]), fromAddr: `${pick(r, FIRST).toLowerCase().replace(/[^a-z]/g, '')}${int(r, 1, 9999)}@${d}`, to: ME, subject: `${obfuscate(r, pick(r, ['Cheap', 'Discount', 'Best', 'Genuine']))} ${obfuscate(r, drug)} ${pick(r, ['online', 'today', 'no prescription', '-80%'])}`, date: dateFor(r), msgIdDomain: pick(r, [d, spamDomain(r)]) }) + body;
  return { raw: Buffer.from(raw), spam: true, kind: 'pharma', authResults: spamAuth(r, d) };
}

function spamLottery(r: R): CorpusMessage {
  const d = spamDomain(r);
  const lines = some(r, LOTTERY, int(r, 3, 6)).map((l) => fill(r, l));
  const text = `${pick(r, ['Dear Friend', 'Attention Beneficiary', 'Dear Winner', 'Greetings'])},\n\n${lines.join('\n\n')}\n\n${pick(r, ['Barrister', 'Mrs.', 'Dr.', 'Prince'])} ${pick(r, FIRST)} ${pick(r, LAST)}\nReply to: claims${int(r, 1, 99)}@${spamDomain(r)}\n`;
  const raw = header(r, { from: `${pick(r, ['International Lottery', 'Claims Department', 'Mrs. ' + pick(r, LAST), 'UN Compensation Unit'])}`, fromAddr: `${pick(r, ['claims', 'info', 'winner', 'office'])}@${d}`, to: chance(r, 0.5) ? 'undisclosed-recipients:;' : ME, subject: pick(r, ['Congratulations you won', 'Your winning notification', 'URGENT ATTENTION', 'Beneficiary payment', 'Confidential business proposal', 'RE: Your compensation fund']), date: dateFor(r), msgIdDomain: d, extra: [`Reply-To: ${pick(r, ['claims', 'agent'])}${int(r, 1, 99)}@${pick(r, PERSONAL_DOMAINS)}`] }) + textPart(text, pick(r, ['utf-8', 'iso-8859-1', 'windows-1252']), pick(r, ['7bit', 'quoted-printable'] as const));
  return { raw: Buffer.from(raw), spam: true, kind: 'lottery', authResults: spamAuth(r, d) };
}

function spamCrypto(r: R): CorpusMessage {
  const d = spamDomain(r);
  const lines = some(r, CRYPTO, int(r, 2, 5)).map((l) => fill(r, l));
  const link = `https://${pick(r, ['bit.ly', 'tinyurl.com', 'cutt.ly', spamDomain(r)])}/${int(r, 1e5, 9e5).toString(36)}`;
  const body = chance(r, 0.5) ? multipart(r, 'alternative', [textPart(lines.join('\n') + `\n${link}\n`), textPart(spamHtml(r, lines, link, { images: int(r, 0, 1) }), 'utf-8', 'quoted-printable', 'html')]) : textPart(spamHtml(r, lines, link, { hidden: chance(r, 0.4) }), 'utf-8', 'base64', 'html');
  const raw = header(r, { from: pick(r, ['Crypto Insider', 'Bitcoin Profits', 'AI Trader', pick(r, FIRST) + ' from ' + pick(r, ['CoinMax', 'BlockYield', 'MoonFund'])]), fromAddr: `${pick(r, ['news', 'vip', 'alerts', 'team'])}@${d}`, to: ME, subject: `${pick(r, ['🚀', '💰', '', ''])}${fill(r, pick(r, ['{pct}% daily returns', 'Your bitcoin is waiting', 'Last chance: presale ends tonight', 'Make {money} this month', 'Passive income with crypto']))}`, date: dateFor(r), msgIdDomain: d }) + body;
  return { raw: Buffer.from(raw), spam: true, kind: 'crypto', authResults: spamAuth(r, d) };
}

function spamImage(r: R): CorpusMessage {
  const d = spamDomain(r);
  const link = `http://${spamDomain(r)}/c/${int(r, 1, 9999)}`;
  const parts = [textPart(spamHtml(r, [pick(r, ['See the offer below', 'Open to view', '', 'Limited time only'])], link, { images: int(r, 2, 5), hidden: chance(r, 0.5) }), 'utf-8', 'quoted-printable', 'html')];
  if (chance(r, 0.5)) parts.push(`Content-Type: image/${pick(r, ['gif', 'jpeg', 'png'])}; name="img${int(r, 1, 99)}.gif"\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <img${int(r, 1, 999)}>\r\n\r\n${Buffer.from(Array.from({ length: int(r, 300, 2000) }, () => int(r, 0, 255))).toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n`);
  const body = parts.length > 1 ? multipart(r, 'related', parts) : parts[0]!;
  const raw = header(r, { from: pick(r, ['Special Offers', 'Member Rewards', 'Deal of the Day', 'Your Gift']), fromAddr: `offers@${d}`, to: ME, subject: pick(r, SPAM_SUBJECT_BITS) + pick(r, ['!', '!!', ' - open now', '']), date: dateFor(r), msgIdDomain: d }) + body;
  return { raw: Buffer.from(raw), spam: true, kind: 'image', authResults: spamAuth(r, d) };
}

function spamInvoice(r: R): CorpusMessage {
  const d = spamDomain(r);
  const text = `${pick(r, ['Hello', 'Dear customer', 'Hi'])},\n\n${pick(r, ['Please see the attached invoice for payment.', 'Your invoice is overdue, payment details attached.', 'Attached is the document you requested.', 'Kindly review the attached purchase order.'])}\nAmount due: $${int(r, 300, 9000)}.00\n\nRegards\n${pick(r, FIRST)}\n`;
  const att = attachment(r, pick(r, ['application/zip', 'application/octet-stream', 'text/html', 'application/x-msdownload']), `${pick(r, ['Invoice', 'INV', 'Payment', 'Order', 'Document'])}_${int(r, 1000, 99999)}.${pick(r, ['zip', 'html', 'exe', 'iso', 'js', 'img'])}`, int(r, 300, 2000));
  const raw = header(r, { from: pick(r, ['Accounts Payable', 'Billing Department', pick(r, FIRST) + ' ' + pick(r, LAST)]), fromAddr: `${pick(r, ['billing', 'accounts', 'invoice'])}@${d}`, to: ME, subject: `${pick(r, ['Invoice', 'Overdue invoice', 'Payment advice', 'Purchase order'])} #${int(r, 1000, 99999)}`, date: dateFor(r), msgIdDomain: d }) + multipart(r, 'mixed', [textPart(text), att]);
  return { raw: Buffer.from(raw), spam: true, kind: 'invoice', authResults: spamAuth(r, d) };
}

function spamForeign(r: R): CorpusMessage {
  const d = spamDomain(r);
  const zh = chance(r, 0.5);
  const lines = some(r, zh ? ZH_SPAM : RU_SPAM, int(r, 2, 4));
  const link = `http://${spamDomain(r)}/${int(r, 1, 999)}`;
  const body = chance(r, 0.5) ? textPart(`${lines.join('\n')}\n${link}\n`, 'utf-8', 'base64') : textPart(spamHtml(r, lines, link, {}), zh ? 'utf-8' : 'utf-8', 'base64', 'html');
  const raw = header(r, { from: zh ? '客服中心' : 'Акция', fromAddr: `${pick(r, ['sale', 'info', 'vip'])}@${d}`, to: ME, subject: zh ? pick(r, ['代开发票', '恭喜中奖', '网上赚钱']) : pick(r, ['Заработок онлайн', 'Скидка 90%', 'Ваш выигрыш']), date: dateFor(r), msgIdDomain: d }) + body;
  return { raw: Buffer.from(raw), spam: true, kind: zh ? 'spam-zh' : 'spam-ru', authResults: spamAuth(r, d) };
}

function spamSeo(r: R): CorpusMessage {
  const p = person(r);
  const lines = some(r, SEO, int(r, 2, 3));
  const text = `Hi,\n\n${lines.join('\n')}\n\n${p.name}\n${pick(r, ['Digital Marketing Consultant', 'SEO Manager', 'Web Growth Agency'])}\n`;
  const raw = header(r, { from: p.name, fromAddr: p.addr, to: ME, subject: pick(r, ['Quick question about your website', 'Website ranking proposal', 'Re: SEO services', 'Guest post opportunity']), date: dateFor(r), msgIdDomain: p.domain }) + textPart(text);
  // Sent from a free mailbox provider: authentication passes.
  return { raw: Buffer.from(raw), spam: true, kind: 'seo', authResults: auth(r, p.domain, 'pass', 'pass', 'pass') };
}

const HAM_KINDS: Array<[number, (r: R) => CorpusMessage]> = [
  [30, hamPersonal],
  [18, hamNewsletter],
  [15, hamReceipt],
  [15, hamList],
  [14, hamWork],
  [8, hamNotification],
];
const SPAM_KINDS: Array<[number, (r: R) => CorpusMessage]> = [
  [20, spamPhish],
  [18, spamPharma],
  [14, spamLottery],
  [14, spamCrypto],
  [12, spamImage],
  [9, spamInvoice],
  [8, spamForeign],
  [5, spamSeo],
];

function weighted(r: R, kinds: Array<[number, (r: R) => CorpusMessage]>): (r: R) => CorpusMessage {
  const total = kinds.reduce((a, [w]) => a + w, 0);
  let x = r() * total;
  for (const [w, f] of kinds) {
    if ((x -= w) < 0) return f;
  }
  return kinds[kinds.length - 1]![1];
}

/**
 * `count` messages, about `spamShare` of them spam, in a shuffled deterministic order. Each message is
 * generated from its own seed (seed, position), so a slice of a corpus equals the same slice of a larger
 * one made with the same seed.
 */
export function spamCorpus(count: number, seed = 1, spamShare = 0.5): CorpusMessage[] {
  const out: CorpusMessage[] = [];
  for (let i = 0; i < count; i++) {
    const r = rng((seed * 1_000_003) ^ (i * 2_654_435_761));
    const spam = r() < spamShare;
    out.push(weighted(r, spam ? SPAM_KINDS : HAM_KINDS)(r));
  }
  return out;
}

/** The raw message as the MX stores it: our Authentication-Results field on top. */
export function withAuthResults(m: CorpusMessage): Buffer {
  return Buffer.concat([Buffer.from(`Authentication-Results: ${m.authResults}\r\n`), m.raw]);
}
