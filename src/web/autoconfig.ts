/**
 * Mail client autoconfiguration from the listeners this server really runs (ctx.listeners(), read per
 * request): Thunderbird's autoconfig (config-v1.1.xml, both the well-known and the /mail/ URL), Microsoft
 * Autodiscover (POST /autodiscover/autodiscover.xml, the Outlook "response schema" 2006a) and an Apple
 * configuration profile (/apple/mobileconfig?email=). Implicit TLS listeners are preferred over STARTTLS;
 * listeners without TLS are never offered.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { HttpContext, PublicListener } from '../http/types.js';

function xml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A plausible address or null (the value only fills a username field). */
function address(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const a = v.trim();
  return a.length <= 320 && /^[^\s@<>"]+@[^\s@<>"]+$/.test(a) ? a : null;
}

type Kind = 'imap' | 'pop3' | 'smtp';
interface Server {
  kind: Kind;
  port: number;
  tls: 'implicit' | 'starttls';
}

/** The best listener of each kind: implicit TLS first, then STARTTLS. */
export function advertisedServers(listeners: readonly PublicListener[]): Server[] {
  const pick = (kind: Kind, implicitName: string, starttlsName: string): Server[] => {
    const out: Server[] = [];
    for (const name of [implicitName, starttlsName]) {
      const l = listeners.find((x) => x.name === name && x.tls !== 'none');
      if (l) out.push({ kind, port: l.port, tls: l.tls === 'implicit' ? 'implicit' : 'starttls' });
    }
    return out;
  };
  return [...pick('imap', 'imaps', 'imap'), ...pick('pop3', 'pop3s', 'pop3'), ...pick('smtp', 'submissions', 'submission')];
}

export function thunderbirdConfig(host: string, email: string | null, listeners: readonly PublicListener[]): string {
  const domain = email ? email.slice(email.lastIndexOf('@') + 1) : host;
  const servers = advertisedServers(listeners);
  const one = (s: Server): string => {
    const tag = s.kind === 'smtp' ? 'outgoingServer' : 'incomingServer';
    return (
      `    <${tag} type="${s.kind}">\n      <hostname>${xml(host)}</hostname>\n      <port>${s.port}</port>\n` +
      `      <socketType>${s.tls === 'implicit' ? 'SSL' : 'STARTTLS'}</socketType>\n      <username>%EMAILADDRESS%</username>\n` +
      `      <authentication>password-cleartext</authentication>\n    </${tag}>\n`
    );
  };
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n<clientConfig version="1.1">\n' +
    `  <emailProvider id="${xml(domain)}">\n    <domain>${xml(domain)}</domain>\n    <displayName>mailroom (${xml(host)})</displayName>\n` +
    `    <displayShortName>mailroom</displayShortName>\n` +
    servers.filter((s) => s.kind !== 'smtp').map(one).join('') +
    servers.filter((s) => s.kind === 'smtp').map(one).join('') +
    '  </emailProvider>\n</clientConfig>\n'
  );
}

export function autodiscoverResponse(host: string, email: string, listeners: readonly PublicListener[]): string {
  const protos = advertisedServers(listeners).map((s) => {
    const type = s.kind === 'imap' ? 'IMAP' : s.kind === 'pop3' ? 'POP3' : 'SMTP';
    return (
      `        <Protocol>\n          <Type>${type}</Type>\n          <Server>${xml(host)}</Server>\n          <Port>${s.port}</Port>\n` +
      `          <LoginName>${xml(email)}</LoginName>\n          <SPA>off</SPA>\n` +
      (s.tls === 'implicit' ? '          <SSL>on</SSL>\n' : '          <SSL>off</SSL>\n          <Encryption>TLS</Encryption>\n') +
      `          <AuthRequired>on</AuthRequired>\n        </Protocol>\n`
    );
  });
  return (
    '<?xml version="1.0" encoding="utf-8"?>\n' +
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">\n' +
    '  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">\n' +
    '    <Account>\n      <AccountType>email</AccountType>\n      <Action>settings</Action>\n' +
    protos.join('') +
    '    </Account>\n  </Response>\n</Autodiscover>\n'
  );
}

export function appleProfile(host: string, email: string, listeners: readonly PublicListener[]): string | null {
  const servers = advertisedServers(listeners);
  const incoming = servers.find((s) => s.kind === 'imap') ?? servers.find((s) => s.kind === 'pop3');
  const outgoing = servers.find((s) => s.kind === 'smtp');
  if (!incoming || !outgoing) return null;
  const k = (key: string, value: string): string => `      <key>${key}</key>\n      ${value}\n`;
  const s = (v: string): string => `<string>${xml(v)}</string>`;
  const b = (v: boolean): string => (v ? '<true/>' : '<false/>');
  const id = `${host.split('.').reverse().join('.')}.mailroom`;
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
    '<plist version="1.0">\n<dict>\n  <key>PayloadContent</key>\n  <array>\n    <dict>\n' +
    k('EmailAccountDescription', s(email)) +
    k('EmailAccountType', s(incoming.kind === 'imap' ? 'EmailTypeIMAP' : 'EmailTypePOP')) +
    k('EmailAddress', s(email)) +
    k('IncomingMailServerAuthentication', s('EmailAuthPassword')) +
    k('IncomingMailServerHostName', s(host)) +
    k('IncomingMailServerPortNumber', `<integer>${incoming.port}</integer>`) +
    k('IncomingMailServerUseSSL', b(incoming.tls === 'implicit')) +
    k('IncomingMailServerUsername', s(email)) +
    k('OutgoingMailServerAuthentication', s('EmailAuthPassword')) +
    k('OutgoingMailServerHostName', s(host)) +
    k('OutgoingMailServerPortNumber', `<integer>${outgoing.port}</integer>`) +
    k('OutgoingMailServerUseSSL', b(outgoing.tls === 'implicit')) +
    k('OutgoingMailServerUsername', s(email)) +
    k('OutgoingPasswordSameAsIncomingPassword', b(true)) +
    k('PayloadDisplayName', s(`Mail (${email})`)) +
    k('PayloadIdentifier', s(`${id}.account`)) +
    k('PayloadType', s('com.apple.mail.managed')) +
    k('PayloadUUID', s(randomUUID().toUpperCase())) +
    k('PayloadVersion', '<integer>1</integer>') +
    '    </dict>\n  </array>\n' +
    '  <key>PayloadDisplayName</key>\n  <string>mailroom</string>\n' +
    `  <key>PayloadIdentifier</key>\n  <string>${xml(id)}</string>\n` +
    '  <key>PayloadType</key>\n  <string>Configuration</string>\n' +
    `  <key>PayloadUUID</key>\n  <string>${randomUUID().toUpperCase()}</string>\n` +
    '  <key>PayloadVersion</key>\n  <integer>1</integer>\n</dict>\n</plist>\n'
  );
}

/** The EMailAddress element of an Autodiscover request body (a string or a Buffer), or null. */
export function autodiscoverEmail(body: unknown): string | null {
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : '';
  const m = /<EMailAddress>\s*([^<]{1,320})\s*<\/EMailAddress>/i.exec(text);
  return m ? address(m[1]) : null;
}

export function registerAutoconfigRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const tb = async (req: { query: unknown }, reply: FastifyReply) => {
    const q = (req.query ?? {}) as Record<string, unknown>;
    reply.header('content-type', 'application/xml; charset=utf-8').header('cache-control', 'no-cache');
    return thunderbirdConfig(ctx.hostname, address(q.emailaddress), ctx.listeners());
  };
  app.get('/.well-known/autoconfig/mail/config-v1.1.xml', tb);
  app.get('/mail/config-v1.1.xml', tb);

  // Autodiscover posts text/xml; keep the body as text for this route's content types.
  app.register(async (sub) => {
    sub.addContentTypeParser(['text/xml', 'application/xml'], { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));
    sub.post('/autodiscover/autodiscover.xml', async (req, reply) => {
      const email = autodiscoverEmail(req.body);
      if (!email) return reply.code(400).header('content-type', 'text/plain').send('no EMailAddress in the request\n');
      reply.header('content-type', 'application/xml; charset=utf-8');
      return autodiscoverResponse(ctx.hostname, email, ctx.listeners());
    });
  });

  app.get('/apple/mobileconfig', async (req, reply) => {
    const email = address(((req.query ?? {}) as Record<string, unknown>).email);
    if (!email) return reply.code(400).header('content-type', 'text/plain').send('email=ADDRESS is required\n');
    const profile = appleProfile(ctx.hostname, email, ctx.listeners());
    if (!profile) return reply.code(404).header('content-type', 'text/plain').send('this server runs no TLS listener for incoming and outgoing mail\n');
    reply.header('content-type', 'application/x-apple-aspen-config; charset=utf-8').header('content-disposition', 'attachment; filename="mailroom.mobileconfig"');
    return profile;
  });
}
