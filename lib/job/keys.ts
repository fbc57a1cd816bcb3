/**
 * The key material of a job, all derived from its one secret, the job key (made by `tsmpirun`
 * per job, or derived from the user's secret under a direct `srun`, see `environment.ts`):
 *
 * - the ZeroMQ CURVE keypair of tcp:// traffic between hosts. Every rank serves with it and
 *   connects with it. CURVE's handshake needs the server's public key, which here is as secret
 *   as the rest (derived from the job key, never published), so a peer without the job key
 *   cannot complete a handshake: it cannot connect, read or inject. There is no ZAP handler
 *   (zeromq.js would need a receive pending for it, which keeps a process alive forever);
 *   knowing the server key is the admission.
 * - the pre-shared key of the TLS channel the rendezvous runs over between hosts
 *   (TLS 1.2, ECDHE-PSK-CHACHA20-POLY1305): a coordinator and its ranks prove to each other
 *   that they hold the job key before a line is read. The ephemeral ECDH share means that a
 *   handshake recorded on the network gives nothing to test guesses of the key against offline
 *   (with plain PSK it would), and that a key learnt later does not decrypt recorded sessions.
 *   TLS 1.2, because there the suite names the key exchange and both ends insist on it (with
 *   TLS 1.3 a PSK handshake may go without (EC)DHE, and nothing in Node tells which it was);
 *   OpenSSL 3.0 (Node 20) has no ECDHE-PSK suite with AES-GCM, ChaCha20-Poly1305 is its AEAD one.
 * - (in `runtime.ts`) the 64-bit token every frame carries.
 *
 * `ipc://` endpoints, the unix-socket rendezvous and shared memory are private to the user
 * (a 0700 job directory) and stay unencrypted. `TSMPI_INSECURE=1` (`tsmpirun --insecure`)
 * turns encryption off.
 *
 * @module
 */
import { createRequire } from "node:module";
import { sha256 } from "./environment.js";
import { textSetting } from "../config.js";

const lazy = createRequire(import.meta.url);

/** A CURVE keypair as ZeroMQ takes it (Z85 text, 40 characters each). */
export interface CurveKeys {
  publicKey: string;
  secretKey: string;
}

/** TLS settings of the rendezvous between hosts (both ends): only the ECDHE-PSK suite is offered or accepted. */
export const RENDEZVOUS_TLS = { ciphers: "ECDHE-PSK-CHACHA20-POLY1305", minVersion: "TLSv1.2", maxVersion: "TLSv1.2" } as const;
/** The PSK identity both ends use. */
export const PSK_IDENTITY = "tsmpi";

const Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/** Z85 (ZeroMQ RFC 32) of `bytes`, whose length is a multiple of 4. */
export function z85(bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let out = "";
  for (let i = 0; i < bytes.byteLength; i += 4) {
    let v = view.getUint32(i);
    let chunk = "";
    for (let j = 0; j < 5; j++) {
      chunk = Z85[v % 85]! + chunk;
      v = Math.floor(v / 85);
    }
    out += chunk;
  }
  return out;
}

/** PKCS#8 DER prefix of a raw X25519 private key (RFC 8410). */
const X25519_PKCS8 = Buffer.from("302e020100300506032b656e04220420", "hex");

/** The job's CURVE keypair, derived from `jobKey` (X25519, as libsodium's crypto_box). */
export function curveKeys(jobKey: string): CurveKeys {
  const crypto = lazy("node:crypto") as typeof import("node:crypto");
  const secret = sha256(`tsmpi-curve-secret:${jobKey}`);
  const key = crypto.createPrivateKey({ key: Buffer.concat([X25519_PKCS8, secret]), format: "der", type: "pkcs8" });
  const pub = Buffer.from(crypto.createPublicKey(key).export({ format: "jwk" }).x!, "base64url");
  return { publicKey: z85(pub), secretKey: z85(secret) };
}

/** The rendezvous's TLS pre-shared key, derived from `jobKey`. */
export function rendezvousPsk(jobKey: string): Buffer {
  return sha256(`tsmpi-rendezvous-psk:${jobKey}`);
}

/** Whether encryption between hosts is turned off (`TSMPI_INSECURE=1`). */
export function insecure(env: NodeJS.ProcessEnv = process.env): boolean {
  return textSetting("TSMPI_INSECURE", env) === "1";
}
