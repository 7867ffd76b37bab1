// The SSRF classifier on its own: every refused range, in IPv4, IPv6 and IPv4-in-IPv6 forms, and
// public addresses that must pass.
import { expect, test } from "bun:test";
import { parseTarget, refusedRange } from "../../src/modules/webhooks/address";

test("private, loopback, link-local, CGNAT, multicast and unspecified addresses are refused; public ones pass", () => {
  const refused = [
    "127.0.0.1", "127.255.0.9", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.255",
    "0.0.0.0", "224.0.0.1", "239.1.1.1", "255.255.255.255", "::", "::1", "fe80::1", "febf::1", "fc00::1", "fd12:3456::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.0.0.1", "::127.0.0.1", "64:ff9b::a00:1", "2002:c0a8:101::", "[::1]", "fe80::1%eth0",
  ];
  for (const address of refused) expect(refusedRange(address), address).not.toBeNull();
  const allowed = ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "192.169.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8", "2606:4700::1111"];
  for (const address of allowed) expect(refusedRange(address), address).toBeNull();
});

test("decimal, octal and hex IPv4 hosts are read as the address they mean; only http(s) URLs are targets", () => {
  for (const url of ["http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/", "http://127.1/"]) expect(parseTarget(url).hostname).toBe("127.0.0.1");
  for (const url of ["ftp://example.com/", "file:///etc/passwd", "javascript:alert(1)", "not a url", "http://user:pw@example.com/"]) {
    expect(() => parseTarget(url), url).toThrow();
  }
});
