"""Parses a message the way a mail client would (Python's email package) and prints its shape.

usage: parse_mail.py FILE   (the raw message, CRLF line endings)
Prints JSON: headers decoded (RFC 2047), the Date parsed, the content types in order, and each
text part decoded (quoted-printable or base64, UTF-8) with its transfer encoding.
"""
import email
import email.policy
import email.utils
import json
import sys

with open(sys.argv[1], 'rb') as f:
    raw = f.read()
message = email.message_from_bytes(raw, policy=email.policy.default)
parts = []
for part in message.walk():
    if part.is_multipart():
        continue
    parts.append({
        'type': part.get_content_type(),
        'charset': part.get_content_charset(),
        'encoding': part.get('Content-Transfer-Encoding'),
        'body': part.get_content(),
    })
out = {
    'defects': [repr(d) for d in message.defects],
    'from': str(message['From']),
    'from_address': message['From'].addresses[0].addr_spec,
    'from_name': message['From'].addresses[0].display_name,
    'to': [a.addr_spec for a in message['To'].addresses],
    'to_names': [a.display_name for a in message['To'].addresses],
    'reply_to': str(message['Reply-To']) if message['Reply-To'] else None,
    'subject': str(message['Subject']),
    'message_id': message['Message-ID'],
    'date_ok': email.utils.parsedate_to_datetime(message['Date']) is not None,
    'mime_version': message['MIME-Version'],
    'content_type': message.get_content_type(),
    'extra': {k: str(v) for k, v in message.items() if k.lower().startswith('x-')},
    'parts': parts,
    'longest_line': max(len(line) for line in raw.split(b'\r\n')),
    'bare_lf': b'\n' in raw.replace(b'\r\n', b''),
}
print(json.dumps(out))
