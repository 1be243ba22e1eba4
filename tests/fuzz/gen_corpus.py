#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/ (run from anywhere).

  fuzz_http         every request literal of tests/unit/test_http.c (adjacent string
                    literals and its #define'd pieces joined, C escapes decoded), typical API
                    requests with the harness's fixed secrets and ids, and the malformed and
                    smuggling shapes of tests/e2e/malformed_http.test.mjs
  fuzz_json_<ep>    typical and edge-case bodies of each write endpoint
  fuzz_ws_message   client frames (see fuzz_ws_message.c for the input format)

Files are named by the SHA-1 of their content, as libFuzzer names them; the script first
removes the files it would write in each folder, so it can be rerun after a change. The ids
are the harness's deterministic ones (REGULARS_FUZZ_PRINT_IDS=1 fuzz_http_replay <file>
prints them); if ids.c changes, update IDS below and rerun.
"""
import hashlib
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, 'corpus')

USER1 = 'ut_fuzz1'
USER2 = 'ut_fuzz2'
MKEY = 'mk_fuzz1'
IDS = dict(user1='u_4c4mmtq58bx5q', user2='u_df3ss9tra3ndd', merchant='m_fqvn2b2c7nb2m',
           reward='r_5d3bbmabyg8c1', purchase1='p_431qptqvx7xv2', purchase2='p_7d8esj011rtr6',
           share='s_0bka32g2w64d6')


def b(s):
    return s.encode('latin-1') if isinstance(s, str) else s


# ---- C string literals of test_http.c -------------------------------------------------------

ESC = {'n': 10, 'r': 13, 't': 9, '0': 0, '\\': 92, '"': 34, "'": 39, 'a': 7, 'b': 8,
       'f': 12, 'v': 11, '?': 63}


def c_unescape(body):
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != '\\':
            out += ch.encode('utf-8')
            i += 1
            continue
        nx = body[i + 1]
        if nx == 'x':
            m = re.match(r'[0-9a-fA-F]+', body[i + 2:])
            out.append(int(m.group(0), 16) & 0xff)
            i += 2 + len(m.group(0))
        elif nx in '01234567':
            m = re.match(r'[0-7]{1,3}', body[i + 1:])
            out.append(int(m.group(0), 8) & 0xff)
            i += 1 + len(m.group(0))
        else:
            out.append(ESC[nx])
            i += 2
    return bytes(out)


TOKEN = re.compile(r'"((?:[^"\\\n]|\\.)*)"|([A-Za-z_][A-Za-z0-9_]*)|(//[^\n]*|/\*.*?\*/)|(\s+)|(.)',
                   re.S)


def literal_sequences(src, macros):
    """Yields the byte strings of adjacent literals (and macros that are literals)."""
    cur = None
    for m in TOKEN.finditer(src):
        lit, ident, comment, space, other = m.groups()
        if space is not None or comment is not None:
            continue
        if lit is not None or (ident is not None and ident in macros):
            piece = c_unescape(lit) if lit is not None else macros[ident]
            cur = piece if cur is None else cur + piece
            continue
        if cur is not None:
            yield cur
            cur = None


def http_from_unit_tests():
    path = os.path.join(ROOT, 'tests', 'unit', 'test_http.c')
    src = open(path, encoding='utf-8').read()
    macros = {}
    for m in re.finditer(r'^#define\s+(\w+)\s+((?:"(?:[^"\\\n]|\\.)*"\s*)+)$', src, re.M):
        macros[m.group(1)] = b''.join(c_unescape(x) for x in re.findall(r'"((?:[^"\\\n]|\\.)*)"', m.group(2)))
    seeds = []
    for s in literal_sequences(src, macros):
        if b'HTTP/1.' in s and len(s) < 20000:
            seeds.append(s)
    return seeds


# ---- typical API requests -------------------------------------------------------------------

def req(method, path, body=None, token=None, extra=''):
    h = f'{method} {path} HTTP/1.1\r\nHost: fuzz\r\n'
    if token:
        h += f'Authorization: Bearer {token}\r\n'
    h += extra
    if body is None:
        return b(h + '\r\n')
    body = b(body)
    return b(h + f'Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n') + body


def api_requests():
    i = IDS
    r = [
        req('GET', '/healthz'),
        req('HEAD', '/healthz'),
        req('GET', '/metrics'),
        req('GET', '/v1/me', token=USER1),
        req('GET', '/v1/me/ledger?limit=2', token=USER1),
        req('GET', '/v1/me/purchases', token=USER1),
        req('GET', '/v1/me/shares', token=USER1),
        req('GET', f'/v1/users/{i["user2"]}', token=USER1),
        req('GET', '/v1/friends', token=USER2),
        req('GET', f'/v1/merchants/{i["merchant"]}'),
        req('GET', '/v1/merchants?lat=37.5&lon=127.0&radius_m=5000&limit=5'),
        req('GET', '/v1/merchants/me', token=MKEY),
        req('GET', '/v1/merchants/me/purchases?limit=1', token=MKEY),
        req('GET', '/v1/merchants/me/stats?days=30', token=MKEY),
        req('GET', '/v1/merchants/me/customers?sort=spend', token=MKEY),
        req('GET', f'/v1/purchases/{i["purchase1"]}', token=MKEY),
        req('GET', f'/v1/purchases/{i["purchase1"]}', token=USER1),
        req('GET', '/v1/stream?token=' + USER1,
            extra='Upgrade: websocket\r\nConnection: Upgrade\r\n'
                  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'),
        req('POST', '/v1/users', '{"name":"Ann","handle":"ann_1","phone":"+15551234567"}'),
        req('POST', '/v1/merchants', '{"name":"Shop","lat":1.5,"lon":2.5,"rules":{"earn_rate_bp":500}}'),
        req('PATCH', '/v1/merchants/me', '{"rules":{"referral_bonus":7},"offers":[{"title":"x","discount_pct":10}]}', MKEY),
        req('POST', '/v1/merchants/me/rewards', '{"title":"Tea","cost":5}', MKEY),
        req('POST', '/v1/purchases', f'{{"user_id":"{i["user2"]}","amount":1200}}', MKEY,
            'Idempotency-Key: k-1\r\n'),
        req('POST', '/v1/purchases', '{"phone":"+15550000001","amount":300}', MKEY),
        req('POST', f'/v1/purchases/{i["purchase2"]}/refund', '{}', MKEY),
        req('POST', '/v1/shares', f'{{"purchase_id":"{i["purchase2"]}","channel":"link","message":"hi"}}', USER1),
        req('POST', '/v1/redemptions', f'{{"reward_id":"{i["reward"]}"}}', USER1, 'Idempotency-Key: r-1\r\n'),
        req('POST', '/v1/redemptions', '{"cash_points":1}', USER1),
        req('PUT', f'/v1/friends/{i["user1"]}', token=USER2),
        req('DELETE', f'/v1/friends/{i["user1"]}', token=USER2),
        # pipelining: a read, a write, a read
        req('GET', '/healthz') + req('POST', '/v1/users', '{"name":"Pip"}') + req('GET', '/v1/me', token=USER1),
        # chunked write
        b('POST /v1/users HTTP/1.1\r\nHost: fuzz\r\nTransfer-Encoding: chunked\r\n'
          'Content-Type: application/json\r\n\r\n5\r\n{"nam\r\n9;ext=1\r\ne":"Chu"}\r\n0\r\n\r\n'),
        # Expect: 100-continue
        b('POST /v1/users HTTP/1.1\r\nHost: fuzz\r\nExpect: 100-continue\r\nContent-Length: 12\r\n\r\n'
          '{"name":"E"}'),
        # HTTP/1.0 and Connection: close with something after
        b('GET /healthz HTTP/1.0\r\n\r\n'),
        req('GET', '/healthz', extra='Connection: close\r\n') + req('GET', '/healthz'),
    ]
    return r


# ---- item 2 of the robustness issue: the server-level table ---------------------------------

def malformed():
    smuggled = req('POST', '/v1/users', '{"name":"Smuggled","handle":"smuggled_1"}')
    cl = len(smuggled)
    return [
        b('POST /v1/users HTTP/1.1\r\nHost: fuzz\r\nX-Abc: \rxTransfer-Encoding: chunked\r\n'
          'Content-Length: %d\r\n\r\n' % cl) + smuggled,
        b('GET /healthz HTTP/1.1\r\nHost: fuzz\r\nX-A: b\r\n Transfer-Encoding: chunked\r\n\r\n'),
        b('GET /healthz HTTP/1.1\r\nHost : fuzz\r\n\r\n'),
        b('GET /healthz HTTP/1.1\r\n\r\n'),
        b('GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'),
        b('POST /v1/users HTTP/1.1\r\nHost: fuzz\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n'
          '0\r\n\r\n') + smuggled,
        b('POST /v1/users HTTP/1.1\r\nHost: fuzz\r\nContent-Length: 0\r\nContent-Length: %d\r\n\r\n' % cl) + smuggled,
        b('POST /v1/users HTTP/1.1\r\nHost: fuzz\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n') + smuggled,
        b('POST /v1/users HTTP/1.1\r\nHost: fuzz\r\nTransfer-Encoding: chunked\r\n\r\n1;' + 'x' * 300 + '\r\na\r\n0\r\n\r\n'),
        b('GET /' + 'a' * 9000 + ' HTTP/1.1\r\nHost: fuzz\r\n\r\n'),
        b('GET /healthz HTTP/1.1\r\nHost: fuzz\r\nX: a\x00b\r\n\r\n'),
        b('G\xc9T /healthz HTTP/1.1\r\nHost: fuzz\r\n\r\n'),
        b('GET /healthz HTTP/1.1\r\nHost: fuzz\r\nContent-Length: %d\r\n\r\n' % cl) + smuggled,
        b('GET /healthz HTTP/1.1\r\nHost: fuzz\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n') + smuggled,
    ]


# ---- JSON bodies ----------------------------------------------------------------------------

def json_seeds():
    i = IDS
    common = ['{}', '[]', 'null', '{"a":1,"a":2}', '{"x":"\\ud800"}', '{"x":1e999}', '{', '"s"',
              '{"x":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}']
    return {
        'users': ['{"name":"Ann"}', '{"name":"Bob","handle":"bob_77"}',
                  '{"name":"Cy","phone":"+821012345678"}', '{"name":""}', '{"name":1}',
                  '{"name":"' + 'n' * 65 + '"}', '{"name":"Dee","handle":"UP"}',
                  '{"name":"Eve","handle":"fuzz_one"}', '{"name":"Fay","phone":"+15550000001"}',
                  '{"name":"\\u0000"}', '{"name":"caf\u00e9 \U0001F600"}', '{"name":"G","phone":"12"}'],
        'merchants': ['{"name":"Shop","lat":37.5,"lon":127}',
                      '{"name":"S","category":"cafe","address":"1 Main St","lat":-90,"lon":180,'
                      '"currency":"USD","rules":{"earn_rate_bp":10000,"referral_bonus":0,'
                      '"friend_bonus":1000000,"credit_window_s":60,"max_referrals_per_share":1000}}',
                      '{"name":"S","lat":91,"lon":0}', '{"name":"S","lat":"1","lon":0}',
                      '{"name":"S","lat":1,"lon":1,"currency":"usd"}',
                      '{"name":"S","lat":1,"lon":1,"rules":{"earn_rate_bp":1.5}}',
                      '{"name":"S","lat":1,"lon":1,"rules":[]}'],
        'merchants_me': ['{"name":"New name"}', '{"rules":{"earn_rate_bp":250}}',
                         '{"offers":[{"title":"Half","discount_pct":50,"ends_at":1999999999999}]}',
                         '{"offers":[]}', '{"offers":[{"title":"x","discount_pct":91}]}',
                         '{"rules":{"credit_window_s":59}}', '{"lat":0,"lon":0,"category":null}',
                         '{"offers":[' + ','.join(['{"title":"o","discount_pct":5}'] * 17) + ']}'],
        'rewards': ['{"title":"Tea","cost":5}', '{"title":"","cost":5}', '{"title":"t","cost":0}',
                    '{"title":"t","cost":1000000000001}', '{"title":"t"}', '{"cost":3}'],
        'purchases': [f'{{"user_id":"{i["user1"]}","amount":100}}',
                      f'{{"user_id":"{i["user2"]}","amount":1000000000}}',
                      '{"phone":"+15550000001","amount":1}', '{"phone":"+19999999999","amount":1}',
                      f'{{"user_id":"{i["user1"]}","amount":0}}',
                      f'{{"user_id":"{i["user1"]}","amount":1.0}}',
                      '{"user_id":"u_zzzzzzzzzzzzz","amount":5}', f'{{"user_id":"{i["merchant"]}","amount":5}}',
                      f'{{"user_id":"{i["user1"]}","phone":"+15550000001","amount":5}}'],
        'refund': ['{}', '', f'@{i["purchase1"]}\n{{}}', '@p_zzzzzzzzzzzzz\n', f'@{i["purchase2"]}\n',
                   '@\n{}', '@p_0000000000000\n'],
        'shares': [f'{{"purchase_id":"{i["purchase2"]}","channel":"post"}}',
                   f'{{"purchase_id":"{i["purchase1"]}","channel":"link","message":"again"}}',
                   f'{{"purchase_id":"{i["purchase2"]}","channel":"tv"}}',
                   f'{{"purchase_id":"{i["purchase2"]}","channel":"checkin","message":"' + 'm' * 281 + '"}',
                   '{"purchase_id":"p_zzzzzzzzzzzzz","channel":"post"}', '{"channel":"post"}'],
        'redemptions': [f'{{"reward_id":"{i["reward"]}"}}', '{"cash_points":1}', '{"cash_points":0}',
                        '{"cash_points":99999999999}', '{"reward_id":"r_zzzzzzzzzzzzz"}',
                        f'{{"reward_id":"{i["reward"]}","cash_points":1}}', '{}'],
        'friends': ['', '{}', f'@{i["user2"]}\n', f'@{i["user1"]}\n', '@u_zzzzzzzzzzzzz\n',
                    f'@{i["merchant"]}\n', '@%00\n', '@..\n'],
        'bench_clock': ['{"advance_s":0}', '{"advance_s":3600}', '{"advance_s":-1}',
                        '{"advance_s":3153600000}', '{"advance_s":3153600001}', '{"advance_s":"1"}'],
        'bench_seed': ['{"users":3,"merchants":1,"friends_per_user":2,"seed":7}',
                       '{"users":0,"merchants":0}', '{"users":10,"merchants":2,"seed":1}',
                       '{"users":1,"merchants":1,"friends_per_user":201}', '{"users":-1,"merchants":1}',
                       '{"users":2,"merchants":1,"seed":18446744073709551615}'],
    }, common


# ---- WebSocket frames -----------------------------------------------------------------------

def ws_seeds():
    def fr(b0, payload):
        payload = b(payload)
        return bytes([b0, len(payload) % 126]) + payload
    text = 0x81
    seeds = [
        b'\x01' + fr(text, '{"hello":1}'),
        b'\x01' + fr(text, 'ping'),
        b'\x01' + fr(0x01, 'frag') + fr(0x80, 'ment'),          # fragmented text
        b'\x01' + fr(0x01, 'a') + fr(0x89, 'p') + fr(0x80, 'b'),  # ping between fragments
        b'\x01' + fr(text, b'\xc3\x28'),                          # bad UTF-8
        b'\x01' + fr(0x83, 'x'),                                   # reserved opcode
        b'\x01' + fr(0xc1, 'x'),                                   # RSV1
        b'\x01' + fr(0x82, b'\x00\x01'),                           # binary
        b'\x01' + fr(0x09, 'p') + fr(0x80, 'q'),                   # fragmented ping
        b'\x01' + fr(0x88, b'\x03\xe7'),                           # close 999
        b'\x01' + fr(0x88, b'\x03\xed'),                           # close 1005
        b'\x01' + fr(0x88, b'\x03\xe8bye'),                        # close 1000
        b'\x01' + fr(0x88, b'\x03'),                               # close, 1-byte payload
        b'\x01' + fr(0x8a, 'unsolicited pong'),
        b'\x01' + fr(0x80, 'continuation without start'),
        b'\x00' + b'\x81\x05hello',                                # unmasked client frame
        b'\x00' + b'\x89\xfe\x00\x7e' + b'\x00' * 4 + b'p' * 126,  # 126-byte ping (16-bit length)
        b'\x00' + b'\x81\xff' + b'\x7f' + b'\xff' * 7 + b'\x00' * 4,  # 63-bit length
    ]
    return seeds


def write(target, seeds, encoding='latin-1'):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    seen = set()
    for s in seeds:
        s = s.encode(encoding) if isinstance(s, str) else s
        h = hashlib.sha1(s).hexdigest()
        if h in seen:
            continue
        seen.add(h)
        with open(os.path.join(d, h), 'wb') as f:
            f.write(s)
    return len(seen)


def main():
    n = write('http', http_from_unit_tests() + api_requests() + malformed())
    print(f'http: {n}')
    per, common = json_seeds()
    for ep, seeds in per.items():
        n = write('json_' + ep, seeds + common, 'utf-8')
        print(f'json_{ep}: {n}')
    print(f'ws_message: {write("ws_message", ws_seeds())}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
