#!/usr/bin/env python3
"""
A libsrtp peer for knude's SRTP interop tests: reads JSON requests, one per line, on stdin and
answers each with one JSON line on stdout. libsrtp is reached through Debian's
python3-pylibsrtp (0.8); the AES-256-CM suite, which pylibsrtp has no profile constant for, is
set on the same libsrtp policy through libsrtp's own srtp_crypto_policy_set_* functions.

Requests:
  {"op": "suites"}
      -> {"suites": [...SDES suite names this libsrtp can do...]}
  {"op": "open", "id": "a", "suite": "AES_CM_128_HMAC_SHA1_80", "key": "<hex master key || salt>",
   "role": "protect" | "unprotect", "window": 128, "mki": {"value": 1, "length": 4}}
      -> {"ok": true}
      ("window" and "mki" are optional; with "mki" the key goes in libsrtp's master key list
      and packets go through srtp_protect_mki / srtp_unprotect_mki and their RTCP twins.)
  {"op": "rtp" | "rtcp", "id": "a", "packets": ["<hex>", ...]}
      -> {"results": [{"ok": "<hex>"} | {"error": "<libsrtp's message>"}, ...]}
Any request that cannot be served: {"error": "..."}.
"""
import ctypes
import ctypes.util
import json
import sys

import pylibsrtp
from pylibsrtp import Policy, Session
from pylibsrtp import SRTP_MAX_TRAILER_LEN
from pylibsrtp._binding import ffi

PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
    "AEAD_AES_128_GCM": Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
    "AEAD_AES_256_GCM": Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
}


def _libsrtp():
    """The libsrtp2 that pylibsrtp's binding is linked with (same process, same library)."""
    for name in ("libsrtp2.so.1", ctypes.util.find_library("srtp2")):
        if not name:
            continue
        try:
            return ctypes.CDLL(name)
        except OSError:
            pass
    return None


LIB = _libsrtp()
# Suites set directly on the policy: name -> (libsrtp setter for RTP, for RTCP).
DIRECT = {}
if LIB is not None and hasattr(LIB, "srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80"):
    DIRECT["AES_256_CM_HMAC_SHA1_80"] = (
        LIB.srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80,
        LIB.srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80,
    )


def make_policy(suite, key, role, window):
    ssrc_type = Policy.SSRC_ANY_OUTBOUND if role == "protect" else Policy.SSRC_ANY_INBOUND
    if suite in PROFILES:
        policy = Policy(key=key, ssrc_type=ssrc_type, srtp_profile=PROFILES[suite])
    elif suite in DIRECT:
        policy = Policy(ssrc_type=ssrc_type)
        set_rtp, set_rtcp = DIRECT[suite]
        for part, setter in ((policy._policy.rtp, set_rtp), (policy._policy.rtcp, set_rtcp)):
            setter(ctypes.c_void_p(int(ffi.cast("uintptr_t", ffi.addressof(part)))))
        policy.key = key
    else:
        raise ValueError("suite %s is not available in this libsrtp" % suite)
    if window:
        policy.window_size = window
    return policy


class _MasterKey(ctypes.Structure):
    """srtp_master_key_t of libsrtp 2.x."""
    _fields_ = [("key", ctypes.c_char_p), ("mki_id", ctypes.c_char_p), ("mki_size", ctypes.c_uint)]


# srtp_policy_t of libsrtp 2.x: ssrc (8), rtp (24), rtcp (24), key, keys, num_master_keys, ...
_POLICY_KEYS_OFFSET = ffi.offsetof("srtp_policy_t", "key") + ctypes.sizeof(ctypes.c_void_p)
_POLICY_NUM_KEYS_OFFSET = _POLICY_KEYS_OFFSET + ctypes.sizeof(ctypes.c_void_p)


class MkiSession:
    """A libsrtp session whose one master key carries an MKI (pylibsrtp has no MKI API)."""

    def __init__(self, policy, key, mki_value, mki_length):
        if LIB is None:
            raise ValueError("libsrtp2 shared library not found for MKI")
        self._key = ctypes.create_string_buffer(key, len(key))
        self._mki = ctypes.create_string_buffer(mki_value.to_bytes(mki_length, "big"), mki_length)
        self._master = _MasterKey(ctypes.cast(self._key, ctypes.c_char_p), ctypes.cast(self._mki, ctypes.c_char_p), mki_length)
        self._list = (ctypes.POINTER(_MasterKey) * 1)(ctypes.pointer(self._master))
        policy.key = None
        base = int(ffi.cast("uintptr_t", policy._policy))
        ctypes.c_void_p.from_address(base + _POLICY_KEYS_OFFSET).value = ctypes.addressof(self._list)
        ctypes.c_ulong.from_address(base + _POLICY_NUM_KEYS_OFFSET).value = 1
        self._session = Session(policy=policy)
        self._ctx = ctypes.c_void_p(int(ffi.cast("uintptr_t", self._session._srtp[0])))
        for name in ("srtp_protect_mki", "srtp_protect_rtcp_mki"):
            getattr(LIB, name).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.c_uint, ctypes.c_uint]
        for name in ("srtp_unprotect_mki", "srtp_unprotect_rtcp_mki"):
            getattr(LIB, name).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.c_uint]

    def _run(self, fn, packet, *args):
        buf = ctypes.create_string_buffer(packet, len(packet) + SRTP_MAX_TRAILER_LEN)
        length = ctypes.c_int(len(packet))
        rc = fn(self._ctx, buf, ctypes.byref(length), *args)
        if rc != 0:
            raise pylibsrtp.Error(pylibsrtp.ERRORS[rc])
        return buf.raw[: length.value]

    def protect(self, packet):
        return self._run(LIB.srtp_protect_mki, packet, 1, 0)

    def unprotect(self, packet):
        return self._run(LIB.srtp_unprotect_mki, packet, 1)

    def protect_rtcp(self, packet):
        return self._run(LIB.srtp_protect_rtcp_mki, packet, 1, 0)

    def unprotect_rtcp(self, packet):
        return self._run(LIB.srtp_unprotect_rtcp_mki, packet, 1)


def main():
    sessions = {}
    out = sys.stdout
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "suites":
                answer = {"suites": sorted(list(PROFILES) + list(DIRECT)), "version": pylibsrtp.__version__}
            elif op == "open":
                key = bytes.fromhex(req["key"])
                policy = make_policy(req["suite"], key, req["role"], req.get("window"))
                mki = req.get("mki")
                session = MkiSession(policy, key, mki["value"], mki["length"]) if mki else Session(policy=policy)
                sessions[req["id"]] = (session, req["role"])
                answer = {"ok": True}
            elif op in ("rtp", "rtcp"):
                session, role = sessions[req["id"]]
                if op == "rtp":
                    fn = session.protect if role == "protect" else session.unprotect
                else:
                    fn = session.protect_rtcp if role == "protect" else session.unprotect_rtcp
                results = []
                for packet in req["packets"]:
                    try:
                        results.append({"ok": fn(bytes.fromhex(packet)).hex()})
                    except (pylibsrtp.Error, ValueError) as e:
                        results.append({"error": str(e)})
                answer = {"results": results}
            else:
                answer = {"error": "unknown op %r" % op}
        except Exception as e:  # one bad request must not end the peer
            answer = {"error": "%s: %s" % (type(e).__name__, e)}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
