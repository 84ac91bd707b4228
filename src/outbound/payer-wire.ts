/**
 * @module outbound/payer-wire — how a 270 is put on the wire for each kind of payer endpoint, and how the X12 is
 * taken out of its answer: raw X12 over HTTP, `{"x12": …}` JSON (Optum/Stedi raw-X12 APIs), and CAQH CORE Phase II
 * connectivity rule vC2.2.0 HTTP MIME multipart. Pure apart from undici's multipart codec; no transport here.
 */

export type PayerMode = 'core' | 'x12' | 'json';
export type PayerEnvelope = { senderId: string; receiverId: string; payloadId: string };

/** CAQH CORE vC2.2.0 envelope values for a real-time 270 and the answers it allows. */
export const CORE = {
  requestType: 'X12_270_Request_005010X279A1',
  responseTypes: ['X12_271_Response_005010X279A1', 'X12_999_Response_005010X231A1', 'X12_TA1_Response_00501X231A1'],
  ruleVersion: '2.2.0',
} as const;

export type WireRequest = { body: Buffer; headers: Record<string, string> };

/** The request body and headers for `mode`. */
export async function encode(
  mode: PayerMode,
  x12: string,
  envelope: PayerEnvelope,
  login?: { userName: string; password: string }
): Promise<WireRequest> {
  switch (mode) {
    case 'x12':
      return { body: Buffer.from(x12, 'utf8'), headers: { 'content-type': 'application/edi-x12' } };
    case 'json': {
      const headers = { 'content-type': 'application/json', accept: 'application/json' };
      return { body: Buffer.from(JSON.stringify({ x12 })), headers };
    }
    case 'core': {
      // Field names and values: CORE 270 vC2.2.0, real-time request envelope (the SOAP element's MIME twin).
      const form = new FormData();
      form.set('PayloadType', CORE.requestType);
      form.set('ProcessingMode', 'RealTime');
      form.set('PayloadID', envelope.payloadId);
      form.set('TimeStamp', new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'));
      form.set('SenderID', envelope.senderId);
      form.set('ReceiverID', envelope.receiverId);
      form.set('CORERuleVersion', CORE.ruleVersion);
      form.set('Payload', x12);
      if (login) {
        form.set('UserName', login.userName);
        form.set('Password', login.password);
      }
      // undici writes the multipart body and picks the boundary: no home-made MIME writer to get wrong.
      const encoded = new Response(form);
      const contentType = encoded.headers.get('content-type') ?? 'multipart/form-data';
      const headers = { 'content-type': contentType, accept: 'multipart/form-data' };
      return { body: Buffer.from(await encoded.arrayBuffer()), headers };
    }
    default:
      return mode satisfies never;
  }
}

/** The X12 of a 2xx answer, or why there is none: a CORE `ErrorCode` other than `Success` when the payer gave one. */
export async function decode(
  mode: PayerMode,
  contentType: string | undefined,
  body: Buffer
): Promise<{ x12: string } | { x12?: undefined; errorCode?: string }> {
  const text = body.toString('utf8');
  switch (mode) {
    case 'x12':
      // Byte for byte: Latin-1 maps each byte to one character, so the stored answer is exactly what came.
      return asX12(body.toString('latin1'));
    case 'json': {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return {};
      }
      const x12 = (json as { x12?: unknown } | null)?.x12;
      return typeof x12 === 'string' ? asX12(x12) : {};
    }
    case 'core': {
      if (!contentType || !/^multipart\/form-data\b/i.test(contentType)) return {};
      let form: FormData;
      try {
        form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
      } catch {
        return {};
      }
      const errorCode = form.get('ErrorCode');
      if (typeof errorCode === 'string' && errorCode !== 'Success') return { errorCode };
      const payloadType = form.get('PayloadType');
      const answers: readonly string[] = CORE.responseTypes;
      if (typeof payloadType === 'string' && !answers.includes(payloadType)) return {};
      const payload = form.get('Payload');
      if (payload === null) return {};
      return asX12(typeof payload === 'string' ? payload : await payload.text());
    }
    default:
      return mode satisfies never;
  }
}

/** An interchange starts with ISA (X12.5 envelope); a byte-order mark or leading blank lines are tolerated. */
function asX12(text: string): { x12: string } | { x12?: undefined } {
  const x12 = text.replace(/^(\uFEFF|\xEF\xBB\xBF)?\s*/, '');
  return x12.startsWith('ISA') ? { x12 } : {};
}
