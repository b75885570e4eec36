/**
 * The ACK to a 200 knude sent: with a delayed offer (RFC 3264 5) it carries the SDP answer.
 * drachtio-srf emits 'ack' on the dialog but its typings do not say so.
 */
import type Srf from 'drachtio-srf';

/** How long a 200 waits for its ACK (64*T1, RFC 3261 13.3.1.4). */
export const ACK_TIMEOUT_MS = 32_000;

/** Calls `fn` with the next ACK received on the dialog. */
export function onAck(dialog: Srf.Dialog, fn: (ack: Srf.SrfRequest) => void): void {
  (dialog as unknown as { once(e: 'ack', fn: (ack: Srf.SrfRequest) => void): void }).once('ack', fn);
}

/**
 * The next ACK on the dialog; undefined when none comes within `timeoutMs` or the far end
 * hangs up first. Call it before sending the 200 it acknowledges.
 */
export function nextAck(dialog: Srf.Dialog, timeoutMs = ACK_TIMEOUT_MS): Promise<Srf.SrfRequest | undefined> {
  return new Promise((resolve) => {
    const done = (ack: Srf.SrfRequest | undefined) => {
      clearTimeout(giveUp);
      dialog.off('destroy', gone);
      resolve(ack);
    };
    const gone = () => done(undefined);
    const giveUp = setTimeout(gone, timeoutMs);
    onAck(dialog, done);
    dialog.once('destroy', gone);
  });
}
