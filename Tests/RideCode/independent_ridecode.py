#!/usr/bin/env python3
"""Ride code v1 issuance written from ../shared/RIDECODE.md alone (issue 17, "Will be checked"):
fresh issuer and phone keys on both algorithms, certificates and dynamic parts, signatures,
`RC1:` + Base45, the issuer-keys JSON file, and a corpus of valid codes and of every way a code
must be refused, each with the outcome RIDECODE.md prescribes.

    independent_ridecode.py corpus --now T --out DIR [--gate-max-age S] [--gate-max-skew S]
                                   [--gate-drift S] [--self-check]

writes DIR/issuer-keys.json (RIDECODE.md's format) and DIR/corpus.json:

    {"now": T, "verify": {"max_age": 60, "max_skew": 30},
     "gate": {"max_age": …, "max_skew": …, "drift": …, "accepted_issuers": ["transit-app", …]},
     "table": [{"issuer": 2, "account": 123}, …],          # accounts the gate's table holds, bound and green
     "codes": [{"name": "…", "text": "RC1:…",
                "verify": {"at": T, "accepted": true, "issuer": 2, "account": 123, "counter": 5}
                          or {"at": T, "accepted": false, "reasons": ["ride_code_…", …], "note": "…"},
                "gate": same without "at", or null when the code is for `verify` only,
                "phase": "main", "after_garbage" or "after_unplug" (when a gate test sends it)}]}

`reasons` lists the reasons the spec allows, the first the one its check order gives; a second
one appears only where RIDECODE.md does not settle the question (the entry's `note` says what).
Codes are presented to a gate in list order (the replay check depends on it); `verify` takes each
at its own `at`. A gate's clock is anywhere in [now, now + drift] when it decides: every
expectation holds over that whole interval (asserted here).

Nothing here is taken from faregate's sources: the model of the checks (`expect`) follows the
table "What a gate checks, in this order", and which bytes a signature covers decides whether a
changed byte breaks it (any change to signed bytes or to a signature breaks it: Ed25519 and SM2
signatures cannot be altered into another valid one without the private key).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import independent_crypto as crypto  # noqa: E402

ED25519, SM2 = 1, 2
ALG_NAMES = {ED25519: "ed25519", SM2: "sm2"}
KEY_LEN = {ED25519: 32, SM2: 65}
SIG_LEN = 64
PREFIX = "RC1:"
ISSUERS = {
    0: "transit-app",
    1: "bus-group",
    2: "alipay",
    3: "unionpay",
    4: "merchants-bank",
    16: "shanghai",
    17: "tianjin",
    18: "guangzhou",
    19: "hohhot",
}
MALFORMED = "ride_code_malformed"
NOT_ACCEPTED = "ride_code_issuer_not_accepted"
UNKNOWN_KEY = "ride_code_unknown_key"
BAD_SIG = "ride_code_bad_signature"
CERT_EXPIRED = "ride_code_certificate_expired"
EXPIRED = "ride_code_expired"
REUSED = "ride_code_reused"

DAY = 86400


class Key:
    """A key pair on either algorithm."""

    def __init__(self, alg):
        self.alg = alg
        if alg == ED25519:
            self.secret, self.public = crypto.ed25519_keygen()
        else:
            self.secret, self.public = crypto.sm2_keygen()

    def sign(self, message):
        if self.alg == ED25519:
            return crypto.ed25519_sign(self.secret, message)
        return crypto.sm2_sign(self.secret, message)


class IssuerKey:
    """An issuer's key as a gate holds it (RIDECODE.md "Issuer keys"); `listed` False for a key
    the issuer has but the gate was never given."""

    def __init__(self, issuer, key_id, alg, valid_from, valid_until, revoked=False, listed=True):
        self.issuer, self.key_id = issuer, key_id
        self.key = Key(alg)
        self.valid_from, self.valid_until, self.revoked, self.listed = valid_from, valid_until, revoked, listed

    def entry(self):
        return {
            "issuer": self.issuer,
            "key_id": self.key_id,
            "alg": ALG_NAMES[self.key.alg],
            "public_key": self.key.public.hex(),
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "revoked": self.revoked,
        }


def u(n, size):
    return n.to_bytes(size, "big")


def certificate_body(
    issuer_key, account, valid_from, valid_until, phone, *, cert_alg=None, version=1, cert_user_alg=None, user_key=None
):
    """Certificate bytes magic … user_key (RIDECODE.md "Bytes", level 1). Keyword arguments
    override a field for the codes that must be refused although correctly signed."""
    user_key = phone.public if user_key is None else user_key
    return (
        b"RC"
        + u(version, 1)
        + u(issuer_key.key.alg if cert_alg is None else cert_alg, 1)
        + u(issuer_key.issuer, 1)
        + u(issuer_key.key_id, 2)
        + u(account, 8)
        + u(valid_from, 4)
        + u(valid_until, 4)
        + u(phone.alg if cert_user_alg is None else cert_user_alg, 1)
        + u(len(user_key), 1)
        + user_key
    )


def issue(signer, body):
    """The certificate: body ‖ cert_sig (the issuer's signature over the body)."""
    return body + signer.sign(body)


def show(phone, certificate, generated_at, counter, flags=0):
    """The code's bytes: certificate ‖ generated_at ‖ counter ‖ flags ‖ user_sig (level 2)."""
    dynamic = u(generated_at, 4) + u(counter, 4) + u(flags, 1)
    return certificate + dynamic + phone.sign(certificate + dynamic)


def broken(code):
    """The code with its phone signature's last byte changed."""
    return code[:-1] + bytes([code[-1] ^ 0x01])


def text_of(code):
    return PREFIX + crypto.base45_encode(code)


# ---------------------------------------------------------------------------------------------
# The spec's checks, as a model of what a gate must answer


def parse(code):
    """Check 1 of RIDECODE.md: the fields, or None when the bytes are malformed (lengths,
    version, algorithms known, nothing trailing)."""
    if len(code) < 25 or code[0:2] != b"RC" or code[2] != 1:
        return None
    cert_alg, user_alg, key_len = code[3], code[23], code[24]
    if cert_alg not in KEY_LEN or user_alg not in KEY_LEN or key_len != KEY_LEN[user_alg]:
        return None
    cert_len = 25 + key_len + SIG_LEN
    if len(code) != cert_len + 9 + SIG_LEN:
        return None
    return {
        "cert_alg": cert_alg,
        "issuer": code[4],
        "key_id": int.from_bytes(code[5:7], "big"),
        "account": int.from_bytes(code[7:15], "big"),
        "valid_from": int.from_bytes(code[15:19], "big"),
        "valid_until": int.from_bytes(code[19:23], "big"),
        "user_alg": user_alg,
        "user_key": code[25 : 25 + key_len],
        "cert_len": cert_len,
        "generated_at": int.from_bytes(code[cert_len : cert_len + 4], "big"),
        "counter": int.from_bytes(code[cert_len + 4 : cert_len + 8], "big"),
        "flags": code[cert_len + 8],
    }


def soft_format_problems(f):
    """Values the byte table rules out although check 1's list does not name them: an account of
    2^52 or more, flag bits other than bit 0, a phone key that is not a point of its curve."""
    problems = []
    if f["account"] >= 2**52:
        problems.append("account >= 2^52")
    if f["flags"] & 0xFE:
        problems.append("flag bits other than bit 0")
    k = f["user_key"]
    if f["user_alg"] == SM2:
        point = (int.from_bytes(k[1:33], "big"), int.from_bytes(k[33:], "big"))
        if k[0] != 4 or not crypto.sm2_on_curve(point):
            problems.append("SM2 phone key not an uncompressed curve point")
    elif not crypto.ed25519_point_decodes(k):
        problems.append("Ed25519 phone key not a curve point")
    return problems


class Gate:
    """The checks' context: `verify` (no policy, no table, no replay memory: checks 1 and 3–7 at
    one instant) or a gate (all nine checks, its clock anywhere in [lo, hi])."""

    def __init__(self, keys, lo, hi, max_age, max_skew, accepted_issuers=None, table=None):
        self.keys = {(k.issuer, k.key_id): k for k in keys if k.listed}
        self.lo, self.hi, self.max_age, self.max_skew = lo, hi, max_age, max_skew
        self.accepted_issuers, self.table = accepted_issuers, table
        self.accepted = {}  # (issuer, account) -> set of counters accepted

    @property
    def is_gate(self):
        return self.accepted_issuers is not None

    def expect(self, code, cert_sig_ok, user_sig_ok, text_ok=True):
        """What the spec says of `code` (its bytes; None when the text is not a code at all).
        `cert_sig_ok`/`user_sig_ok`: whether the signatures verify with the key that signed
        them, i.e. no byte they cover was changed. Updates the replay memory on acceptance."""
        f = parse(code) if (code is not None and text_ok) else None
        if f is None:
            return {"accepted": False, "reasons": [MALFORMED]}
        soft = soft_format_problems(f)
        outcome, note = self._checks(f, cert_sig_ok, user_sig_ok)
        notes = [note] if note else []
        if soft:
            notes.append("check 1 does not list " + ", ".join(soft) + "; the byte table rules it out")
            if outcome["accepted"]:
                outcome = {"accepted": False, "reasons": [MALFORMED]}
            elif MALFORMED not in outcome["reasons"]:
                outcome["reasons"] = outcome["reasons"] + [MALFORMED]
        if outcome["accepted"] and self.is_gate:
            assert (f["issuer"], f["account"]) in self.table, "account not in the table"
            self.accepted.setdefault((f["issuer"], f["account"]), set()).add(f["counter"])
        if notes:
            outcome["note"] = "; ".join(notes)
        return outcome

    def _checks(self, f, cert_sig_ok, user_sig_ok):
        refuse = lambda *reasons: ({"accepted": False, "reasons": list(reasons)}, None)  # noqa: E731
        issuer = f["issuer"]
        note = None
        # 2: issuer accepted by the rules in force (gate only). An issuer number outside the table
        # is not accepted by any rule; a gate could also call it malformed (check 1 does not list it).
        if self.is_gate:
            if issuer not in ISSUERS:
                return {"accepted": False, "reasons": [NOT_ACCEPTED, MALFORMED]}, "issuer number outside the table"
            if ISSUERS[issuer] not in self.accepted_issuers:
                return refuse(NOT_ACCEPTED)
        # 3: issuer key known, not revoked, valid at generated_at.
        key = self.keys.get((issuer, f["key_id"]))
        if key is None or key.revoked or not (key.valid_from <= f["generated_at"] <= key.valid_until):
            if not self.is_gate and issuer not in ISSUERS:
                return {"accepted": False, "reasons": [UNKNOWN_KEY, MALFORMED]}, "issuer number outside the table"
            return refuse(UNKNOWN_KEY)
        # 4: certificate signature. A certificate naming another algorithm than its key's has no
        # valid signature by that key; a gate may also count the key as not known for it.
        if key.key.alg != f["cert_alg"]:
            return {"accepted": False, "reasons": [BAD_SIG, UNKNOWN_KEY]}, "cert_alg differs from the key's alg"
        if not cert_sig_ok:
            return refuse(BAD_SIG)
        # 5: certificate validity at now (the whole interval).
        inside = [f["valid_from"] <= t <= f["valid_until"] for t in (self.lo, self.hi)]
        assert inside[0] == inside[1], "certificate validity changes while the gate decides"
        if not inside[0]:
            return refuse(CERT_EXPIRED)
        # 6: phone signature.
        if not user_sig_ok:
            return refuse(BAD_SIG)
        # 7: freshness.
        g = f["generated_at"]
        fresh = [t - self.max_age <= g <= t + self.max_skew for t in (self.lo, self.hi)]
        assert fresh[0] == fresh[1], "freshness changes while the gate decides"
        if not fresh[0]:
            return refuse(EXPIRED)
        if self.is_gate:
            # 8: not seen before, and no higher counter of the account accepted.
            seen = self.accepted.get((issuer, f["account"]), set())
            if any(c >= f["counter"] for c in seen):
                return refuse(REUSED)
            # 9: the table's binding and health: the corpus only presents accounts the table holds
            # (asserted in `expect`).
        return {"accepted": True, "issuer": issuer, "account": f["account"], "counter": f["counter"]}, note


# ---------------------------------------------------------------------------------------------
# The corpus


FIELDS_CERT = [
    ("magic", 0, 2),
    ("version", 2, 1),
    ("cert_alg", 3, 1),
    ("issuer", 4, 1),
    ("issuer_key_id", 5, 2),
    ("account", 7, 8),
    ("valid_from", 15, 4),
    ("valid_until", 19, 4),
    ("user_alg", 23, 1),
    ("user_key_len", 24, 1),
]


def field_at(code, user_key_len, i):
    """The RIDECODE.md field byte `i` of a code belongs to."""
    for name, start, size in FIELDS_CERT:
        if start <= i < start + size:
            return name
    cert_len = 25 + user_key_len + SIG_LEN
    for name, start, size in [
        ("user_key", 25, user_key_len),
        ("cert_sig", 25 + user_key_len, SIG_LEN),
        ("generated_at", cert_len, 4),
        ("counter", cert_len + 4, 4),
        ("flags", cert_len + 8, 1),
        ("user_sig", cert_len + 9, SIG_LEN),
    ]:
        if start <= i < start + size:
            return name
    return "trailing"


class Corpus:
    def __init__(self, now, gate_max_age, gate_max_skew, drift):
        self.now = now
        self.verify_max_age, self.verify_max_skew = 60, 30  # RIDECODE.md's defaults: verify has no policy
        self.gate_max_age, self.gate_max_skew, self.drift = gate_max_age, gate_max_skew, drift
        self.codes = []
        self.table = set()
        self.signatures = []  # (alg, public key, message, signature) for --self-check
        n = now
        mk = IssuerKey
        # Issuers on both algorithms, home and other cities; key ids of both bytes.
        self.transit = mk(0, 1, ED25519, n - 30 * DAY, n + 365 * DAY)
        self.alipay = mk(2, 7, SM2, n - 30 * DAY, n + 365 * DAY)
        self.unionpay_revoked = mk(3, 1, SM2, n - 300 * DAY, n + 300 * DAY, revoked=True)
        self.unionpay = mk(3, 2, ED25519, n - 30 * DAY, n + 365 * DAY)
        self.cmb = mk(4, 5, ED25519, n - 30 * DAY, n + 365 * DAY)  # a gate that does not accept this issuer
        self.shanghai = mk(16, 3, ED25519, n - 30 * DAY, n + 365 * DAY)
        self.guangzhou = mk(18, 0x0102, SM2, n - 30 * DAY, n + 365 * DAY)
        self.tianjin_old = mk(17, 1, SM2, n - 400 * DAY, n - 1 * DAY)  # valid until a day ago
        self.tianjin_next = mk(17, 2, ED25519, n + 1 * DAY, n + 400 * DAY)  # valid from tomorrow
        self.tianjin = mk(17, 3, SM2, n - 1 * DAY, n + 400 * DAY)
        self.alipay_unlisted = mk(2, 8, SM2, n - 30 * DAY, n + 365 * DAY, listed=False)
        self.hohhot_unlisted = mk(19, 1, ED25519, n - 30 * DAY, n + 365 * DAY, listed=False)
        self.keys = [
            self.transit,
            self.alipay,
            self.unionpay_revoked,
            self.unionpay,
            self.cmb,
            self.shanghai,
            self.guangzhou,
            self.tianjin_old,
            self.tianjin_next,
            self.tianjin,
            self.alipay_unlisted,
            self.hohhot_unlisted,
        ]
        accepted = [name for number, name in ISSUERS.items() if number != 4]
        self.accepted_issuers = accepted
        self.verifier = lambda at: Gate(self.keys, at, at, self.verify_max_age, self.verify_max_skew)
        self.gate = Gate(
            self.keys, n, n + drift, gate_max_age, gate_max_skew, accepted_issuers=set(accepted), table=self.table
        )
        self.next_account = 1_000_000
        self.phase = "main"

    def account(self):
        self.next_account += 7919
        return self.next_account

    def phone_code(
        self,
        issuer_key,
        user_alg,
        account=None,
        generated_at=None,
        counter=1,
        flags=0,
        cert_from=None,
        cert_until=None,
        signer=None,
        **overrides,
    ):
        """A phone with a new key certified by `issuer_key` (signed by `signer` if given), and its code."""
        phone = Key(user_alg)
        account = self.account() if account is None else account
        cert_from = self.now - 10 * DAY if cert_from is None else cert_from
        cert_until = self.now + 90 * DAY if cert_until is None else cert_until
        body = certificate_body(issuer_key, account, cert_from, cert_until, phone, **overrides)
        signing = issuer_key.key if signer is None else signer
        certificate = issue(signing, body)
        generated_at = self.now - 5 if generated_at is None else generated_at
        code = show(phone, certificate, generated_at, counter, flags)
        cert_len = len(certificate)
        if "user_key" not in overrides:
            self.signatures.append((signing.alg, signing.public, body, certificate[len(body) :]))
            self.signatures.append((phone.alg, phone.public, code[: cert_len + 9], code[cert_len + 9 :]))
        if issuer_key.issuer in ISSUERS and account < 2**52:
            self.table.add((issuer_key.issuer, account))
        return code

    def add(self, name, code, *, verify=True, gate=True, cert_sig_ok=True, user_sig_ok=True, text=None, at=None):
        """Adds a code with the expectations of the model for `verify` (at `at`, default now) and
        for the gate (presented in this order)."""
        text = text_of(code) if text is None else text
        text_ok = text.startswith(PREFIX) and crypto.base45_decode(text[len(PREFIX) :]) == code
        at = self.now if at is None else at
        entry = {"name": name, "phase": self.phase, "text": text, "verify": None, "gate": None}
        if verify:
            entry["verify"] = dict(self.verifier(at).expect(code, cert_sig_ok, user_sig_ok, text_ok), at=at)
        if gate:
            entry["gate"] = self.gate.expect(code, cert_sig_ok, user_sig_ok, text_ok)
        self.codes.append(entry)
        return entry

    def add_text(self, name, text, gate=True):
        """A text that is not a code at all (prefix, Base45)."""
        entry = {"name": name, "phase": self.phase, "text": text, "verify": None, "gate": None}
        entry["verify"] = {"at": self.now, "accepted": False, "reasons": [MALFORMED]}
        if gate:
            entry["gate"] = {"accepted": False, "reasons": [MALFORMED]}
        self.codes.append(entry)

    def build(self):
        n = self.now
        valid = []
        # 1. Valid codes: every issuer key in service × both phone algorithms (so all four pairs).
        for ik in [self.transit, self.alipay, self.unionpay, self.cmb, self.shanghai, self.guangzhou, self.tianjin]:
            for user_alg in (ED25519, SM2):
                code = self.phone_code(ik, user_alg, counter=3)
                e = self.add(f"valid {ISSUERS[ik.issuer]} key {ik.key_id} {ALG_NAMES[ik.key.alg]}/"
                             f"{ALG_NAMES[user_alg]}", code)
                valid.append((ik, user_alg, code, e))
        # Edge values that are valid.
        self.add("valid: largest account 2^52-1", self.phone_code(self.alipay, ED25519, account=2**52 - 1))
        self.add("valid: account 0", self.phone_code(self.shanghai, SM2, account=0))
        self.add("valid: counter 2^32-1", self.phone_code(self.guangzhou, ED25519, counter=2**32 - 1))
        self.add("valid: counter 0", self.phone_code(self.transit, SM2, counter=0))
        self.add("valid: offline flag", self.phone_code(self.unionpay, SM2, flags=1))
        self.add("valid: key id 0x0102 (both bytes)", self.phone_code(self.guangzhou, SM2))
        # Counters of one account: higher again accepted, lower or equal refused at a gate.
        acct = self.account()
        c10 = self.phone_code(self.alipay, ED25519, account=acct, counter=10)
        self.add("account A counter 10", c10)
        self.add("account A counter 9 after 10 (a lower counter)", self.phone_code(self.alipay, SM2, account=acct,
                                                                                   counter=9))
        self.add("account A counter 11", self.phone_code(self.alipay, ED25519, account=acct, counter=11))
        self.add("account A counter 10 again from another phone", self.phone_code(self.alipay, SM2, account=acct,
                                                                                  counter=10))
        # Replays of valid codes: refused at a gate (verify keeps no memory and accepts them).
        for ik, user_alg, code, _ in valid[:4]:
            self.add(f"replay of valid {ISSUERS[ik.issuer]} {ALG_NAMES[ik.key.alg]}/{ALG_NAMES[user_alg]}", code)

        # 2. Issuer keys: unknown, revoked, outside their validity at generated_at.
        self.add("unknown key id (issuer 2 key 8, never given to the gate)",
                 self.phone_code(self.alipay_unlisted, SM2))
        self.add("issuer with no key at all (hohhot)", self.phone_code(self.hohhot_unlisted, ED25519))
        self.add("revoked key (unionpay key 1)", self.phone_code(self.unionpay_revoked, ED25519))
        self.add("revoked key with a bad certificate signature (check 3 before 4)",
                 self.phone_code(self.unionpay_revoked, SM2, signer=Key(SM2)), cert_sig_ok=False)
        self.add("key expired before generated_at (tianjin key 1)", self.phone_code(self.tianjin_old, SM2))
        self.add("key not yet valid at generated_at (tianjin key 2)", self.phone_code(self.tianjin_next, ED25519))
        ko = self.tianjin_old
        for label, g, at in [("== key valid_until", ko.valid_until, ko.valid_until),
                             ("== key valid_until + 1", ko.valid_until + 1, ko.valid_until + 1)]:
            code = self.phone_code(ko, ED25519, generated_at=g, cert_from=g - DAY, cert_until=g + DAY)
            self.add(f"generated_at {label} (verify at generated_at)", code, gate=False, at=at)
        kn = self.tianjin_next
        for label, g in [("== key valid_from", kn.valid_from), ("== key valid_from - 1", kn.valid_from - 1)]:
            code = self.phone_code(kn, SM2, generated_at=g, cert_from=g - DAY, cert_until=g + DAY)
            self.add(f"generated_at {label} (verify at generated_at)", code, gate=False, at=g)
        self.add("key id of another issuer (issuer 0 with shanghai's key 3)",
                 self.phone_code(IssuerKey(0, 3, ED25519, 0, 0), ED25519, signer=self.shanghai.key))
        forged = self.phone_code(self.alipay, ED25519, signer=Key(SM2))
        self.add("certificate signed by a key other than the listed one (same issuer and key id)", forged,
                 cert_sig_ok=False)
        wrong = IssuerKey(2, 7, ED25519, 0, 0)
        self.add("cert_alg ed25519 for the SM2 key 2/7 (signed by an Ed25519 key)",
                 self.phone_code(wrong, ED25519, signer=wrong.key), cert_sig_ok=False)

        # 3. Certificate validity (check 5) and freshness (check 7).
        self.add("certificate expired a minute ago",
                 self.phone_code(self.alipay, ED25519, cert_from=n - 100 * DAY, cert_until=n - 60))
        self.add("certificate not valid for five more hours",
                 self.phone_code(self.transit, SM2, cert_from=n + 5 * 3600, cert_until=n + 90 * DAY))
        self.add("certificate expired and phone signature bad (check 5 before 6)",
                 broken(self.phone_code(self.shanghai, SM2, cert_from=n - 100 * DAY, cert_until=n - 60)),
                 user_sig_ok=False)
        for label, vf, vu in [("valid_until == now", n - DAY, n), ("valid_from == now", n, n + DAY),
                              ("valid_until == now - 1", n - DAY, n - 1), ("valid_from == now + 1", n + 1, n + DAY)]:
            self.add(f"certificate {label} (verify)", self.phone_code(self.guangzhou, ED25519, cert_from=vf,
                                                                      cert_until=vu), gate=False)
        va, vs = self.verify_max_age, self.verify_max_skew
        for label, g in [("now - max_age", n - va), ("now - max_age - 1", n - va - 1), ("now + max_skew", n + vs),
                         ("now + max_skew + 1", n + vs + 1)]:
            self.add(f"generated_at {label} (verify)", self.phone_code(self.alipay, SM2, generated_at=g), gate=False)
        ga, gs = self.gate_max_age, self.gate_max_skew
        self.add("stale code (generated an hour past the gate's max age)",
                 self.phone_code(self.transit, ED25519, generated_at=n - ga - 3600))
        self.add("stale code, SM2/SM2", self.phone_code(self.guangzhou, SM2, generated_at=n - ga - 3600))
        self.add("future code (past the gate's skew)",
                 self.phone_code(self.shanghai, SM2, generated_at=n + self.drift + gs + 3600))
        self.add("future code, SM2/Ed25519",
                 self.phone_code(self.alipay, ED25519, generated_at=n + self.drift + gs + 3600))
        self.add("stale code with a bad phone signature (check 6 before 7)",
                 broken(self.phone_code(self.unionpay, ED25519, generated_at=n - ga - 3600)), user_sig_ok=False)

        # 4. Issuer not accepted at the gate (check 2; verify has no rules and accepts it).
        self.add("issuer not accepted by the gate's rules (merchants-bank)", self.phone_code(self.cmb, SM2))

        # An issuer number RIDECODE.md's table does not have (its key is in no file).
        self.add("issuer number 5 (outside the table)",
                 self.phone_code(IssuerKey(5, 1, ED25519, n - DAY, n + DAY, listed=False), ED25519))
        self.add("issuer number 130 (outside the table), SM2",
                 self.phone_code(IssuerKey(130, 7, SM2, n - DAY, n + DAY, listed=False), SM2))

        # 5. Correctly signed but not a v1 code.
        self.add("signed, version 2", self.phone_code(self.alipay, ED25519, version=2), cert_sig_ok=True)
        self.add("signed, account 2^52", self.phone_code(self.transit, ED25519, account=2**52))
        self.add("signed, account 2^64-1", self.phone_code(self.transit, SM2, account=2**64 - 1))
        self.add("signed, flags 0x02", self.phone_code(self.shanghai, ED25519, flags=2))
        self.add("signed, flags 0x81", self.phone_code(self.alipay, SM2, flags=0x81))
        self.add("signed, cert_alg 3", self.phone_code(self.transit, ED25519, cert_alg=3))
        self.add("signed, cert_alg 0", self.phone_code(self.transit, ED25519, cert_alg=0))
        self.add("signed, user_alg 3 (key length 32)", self.phone_code(self.transit, ED25519, cert_user_alg=3))
        self.add("signed, user_alg sm2 with a 32-byte key",
                 self.phone_code(self.transit, ED25519, cert_user_alg=SM2))
        self.add("signed, user_alg ed25519 with a 65-byte key",
                 self.phone_code(self.alipay, SM2, cert_user_alg=ED25519))
        bad_point = b"\x04" + bytes(range(1, 65))
        self.add("signed, SM2 phone key not on the curve",
                 self.phone_code(self.alipay, SM2, user_key=bad_point), user_sig_ok=False)
        compressed = b"\x02" + Key(SM2).public[1:33] + b"\x00" * 32
        self.add("signed, SM2 phone key with prefix 0x02",
                 self.phone_code(self.alipay, SM2, user_key=compressed), user_sig_ok=False)

        # 6. Bytes and text: every byte of one code per algorithm pair changed (xor 0x01, and xor
        # 0x80 for verify), truncations and trailing bytes.
        pairs = {}
        for ik, user_alg, code, _ in valid:
            pairs.setdefault((ik.key.alg, user_alg), (ik, code))
        for (cert_alg, user_alg), (ik, code) in sorted(pairs.items()):
            pair = f"{ALG_NAMES[cert_alg]}/{ALG_NAMES[user_alg]}"
            key_len = KEY_LEN[user_alg]
            cert_len = 25 + key_len + SIG_LEN
            for mask in (0x01, 0x80):
                for i in range(len(code)):
                    t = bytearray(code)
                    t[i] ^= mask
                    field = field_at(code, key_len, i)
                    self.add(f"{pair} byte {i} ({field}) xor 0x{mask:02x}", bytes(t), gate=(mask == 0x01),
                             cert_sig_ok=i >= cert_len, user_sig_ok=False)
            for cut in (1, SIG_LEN, 9 + SIG_LEN, len(code) - 1):
                self.add(f"{pair} last {cut} bytes cut", code[:-cut], cert_sig_ok=False, user_sig_ok=False)
            for extra in (b"\x00", b"\x0a", b"RC"):
                self.add(f"{pair} trailing {extra!r}", code + extra, cert_sig_ok=False, user_sig_ok=False)
            text = text_of(code)
            b45 = text[len(PREFIX):]
            self.add_text(f"{pair} no prefix", b45)
            self.add_text(f"{pair} prefix rc1:", "rc1:" + b45)
            self.add_text(f"{pair} prefix RC2:", "RC2:" + b45)
            self.add_text(f"{pair} prefix RC1 without colon", "RC1" + b45)
            self.add_text(f"{pair} trailing space", text + " ")
            self.add_text(f"{pair} leading space", " " + text)
            self.add_text(f"{pair} last character dropped", text[:-1])
            self.add_text(f"{pair} last two characters dropped", text[:-2])
            self.add_text(f"{pair} lowercase character", PREFIX + b45[:10] + b45[10].lower() + b45[11:]
                          if b45[10].isalpha() else PREFIX + b45[:10] + "a" + b45[11:])
            self.add_text(f"{pair} character outside Base45 (#)", PREFIX + b45[:20] + "#" + b45[21:])
            self.add_text(f"{pair} triple above 65535 (GGW)", PREFIX + "GGW" + b45[3:])
            if len(code) % 2:
                self.add_text(f"{pair} final pair above 255 (GG)", text[:-2] + "GG")
        self.add_text("prefix only", PREFIX)
        self.add_text("a card number", "1000751000000000001")
        self.add_text("the bytes without Base45", "RC1:RC\x01")  # a control byte: garbage on the scanner
        self.codes[-1]["gate"] = None  # the scanner refuses it before parsing (the gate test sends garbage itself)
        # The gate test sends garbage and an over-long line after the main phase, then these; then
        # it unplugs the scanner and plugs it back, then the last phase.
        self.phase = "after_garbage"
        self.add("valid after garbage", self.phone_code(self.unionpay, SM2, counter=7))
        self.add("replay after garbage", valid[4][2])
        self.phase = "after_unplug"
        self.add("valid after the scanner came back", self.phone_code(self.guangzhou, ED25519, counter=8))
        self.add("valid after the scanner came back, SM2/SM2", self.phone_code(self.tianjin, SM2, counter=9))
        self.add("replay after the scanner came back", valid[5][2])
        self.add("stale after the scanner came back", self.phone_code(self.transit, SM2, generated_at=n - ga - 3600))

    def self_check(self):
        """Has the `openssl` command line (OpenSSL 3) verify every signature made here: Ed25519
        pure, SM2 with SM3 and the default distinguishing ID (RIDECODE.md "Signatures")."""
        with tempfile.TemporaryDirectory() as d:
            for i, (alg, public, message, signature) in enumerate(self.signatures):
                pub, msg, sig = (os.path.join(d, f"{i}.{x}") for x in ("pub", "msg", "sig"))
                with open(msg, "wb") as fh:
                    fh.write(message)
                if alg == ED25519:
                    spki = bytes.fromhex("302a300506032b6570032100") + public
                    sig_der = signature
                    extra = []
                else:
                    spki = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200") + public
                    sig_der = der_signature(signature)
                    extra = ["-digest", "sm3", "-pkeyopt", "distid:1234567812345678"]
                with open(pub, "wb") as fh:
                    fh.write(spki)
                with open(sig, "wb") as fh:
                    fh.write(sig_der)
                r = subprocess.run(
                    ["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", pub, "-rawin", "-in",
                     msg, "-sigfile", sig] + extra, capture_output=True)
                if r.returncode != 0:
                    raise SystemExit(f"openssl does not verify signature {i} ({ALG_NAMES[alg]}): {r.stdout!r}")
        return len(self.signatures)


def der_signature(rs):
    """r ‖ s as the DER ECDSA-Sig-Value OpenSSL reads."""
    def integer(x):
        b = x.to_bytes(33, "big").lstrip(b"\x00") or b"\x00"
        if b[0] & 0x80:
            b = b"\x00" + b
        return bytes([2, len(b)]) + b
    body = integer(int.from_bytes(rs[:32], "big")) + integer(int.from_bytes(rs[32:], "big"))
    return bytes([0x30, len(body)]) + body


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("corpus")
    c.add_argument("--now", type=int, required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--gate-max-age", type=int, default=3600)
    c.add_argument("--gate-max-skew", type=int, default=600)
    c.add_argument("--gate-drift", type=int, default=1800, help="how long after --now the gate may decide")
    c.add_argument("--self-check", action="store_true", help="openssl verifies every signature made")
    args = ap.parse_args()
    crypto.self_test()
    corpus = Corpus(args.now, args.gate_max_age, args.gate_max_skew, args.gate_drift)
    corpus.build()
    checked = corpus.self_check() if args.self_check else 0
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "issuer-keys.json"), "w") as fh:
        json.dump([k.entry() for k in corpus.keys if k.listed], fh, indent=1)
    document = {
        "now": args.now,
        "verify": {"max_age": corpus.verify_max_age, "max_skew": corpus.verify_max_skew},
        "gate": {"max_age": args.gate_max_age, "max_skew": args.gate_max_skew, "drift": args.gate_drift,
                 "accepted_issuers": corpus.accepted_issuers},
        "table": [{"issuer": i, "account": a} for i, a in sorted(corpus.table)],
        "codes": corpus.codes,
    }
    with open(os.path.join(args.out, "corpus.json"), "w") as fh:
        json.dump(document, fh, indent=1, ensure_ascii=False)
    v = sum(1 for e in corpus.codes if e["verify"])
    g = sum(1 for e in corpus.codes if e["gate"])
    print(json.dumps({"codes": len(corpus.codes), "verify": v, "gate": g, "keys": len(corpus.keys),
                      "openssl_verified_signatures": checked}))


if __name__ == "__main__":
    main()
