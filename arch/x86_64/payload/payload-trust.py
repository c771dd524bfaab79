#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# payload-trust.py OUT.esl [FILE...]
#
# The signature database built into the payload (db or dbx): the EFI_SIGNATURE_LISTs of every
# FILE, in order. A FILE is an X.509 certificate (PEM, possibly several, or DER), which becomes
# one EFI_CERT_X509 list, or an EFI_SIGNATURE_LIST file (.esl), taken as it is. The payload
# checks the whole database before it uses it (verifier::validate_policy) and refuses every UKI
# when it is malformed; this script refuses files it cannot classify.
import re
import struct
import subprocess
import sys
import uuid

EFI_CERT_X509 = uuid.UUID("a5c059a1-94e4-4aa7-87b5-ab155c2bf072")
# The SignatureOwner of the lists made here.
OWNER = uuid.UUID("5a9ac6f8-4f2b-4a0e-9d3c-65666b657865")


def der_of_pem(path, text):
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)
    ders = []
    for block in blocks:
        der = subprocess.run(["openssl", "x509", "-outform", "DER"], input=block, check=True,
                             capture_output=True).stdout
        ders.append(der)
    return ders


def is_der_certificate(data):
    return subprocess.run(["openssl", "x509", "-inform", "DER", "-noout"], input=data,
                          capture_output=True).returncode == 0


def x509_list(der):
    size = 16 + len(der)
    return (EFI_CERT_X509.bytes_le + struct.pack("<III", 28 + size, 0, size) + OWNER.bytes_le +
            der)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: payload-trust.py OUT.esl [FILE...]")
    out = bytearray()
    for path in sys.argv[2:]:
        data = open(path, "rb").read()
        if b"-----BEGIN CERTIFICATE-----" in data:
            for der in der_of_pem(path, data):
                out += x509_list(der)
        elif is_der_certificate(data):
            out += x509_list(data)
        elif len(data) >= 28 and struct.unpack_from("<I", data, 16)[0] <= len(data):
            out += data
        else:
            sys.exit(f"payload-trust: {path} is neither a certificate nor an EFI_SIGNATURE_LIST file")
    open(sys.argv[1], "wb").write(bytes(out))


main()
