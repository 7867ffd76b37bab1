// The SSRF classifier on its own: every refused range, in IPv4, IPv6 and IPv4-in-IPv6 forms, and
// public addresses that must pass.
import { describe, expect, test } from "bun:test";
import { parseTarget, pinnedRequest, refusedRange } from "../../src/modules/webhooks/address";

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

test("SIIT-translated (::ffff:0:0:0/96) addresses are judged by their IPv4 address; local-use NAT64 (64:ff9b:1::/48) is refused", () => {
  for (const address of ["::ffff:0:7f00:1", "::ffff:0:127.0.0.1", "::ffff:0:a00:1", "::ffff:0:a9fe:a9fe", "0:0:0:0:ffff:0:c0a8:101"]) {
    expect(refusedRange(address), address).not.toBeNull();
  }
  expect(refusedRange("::ffff:0:808:808")).toBeNull();
  // Where its IPv4 address sits depends on the network's prefix length: refused whatever it holds.
  for (const address of ["64:ff9b:1::7f00:1", "64:ff9b:1::127.0.0.1", "64:ff9b:1:7f00:1::", "64:ff9b:1::808:808", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff"]) {
    expect(refusedRange(address), address).toContain("64:ff9b:1::/48");
  }
  // Only that /48: the well-known prefix keeps its reading, and 64:ff9b:2:: is not NAT64.
  expect(refusedRange("64:ff9b::808:808")).toBeNull();
  expect(refusedRange("64:ff9b:2::7f00:1")).toBeNull();
});

test("decimal, octal and hex IPv4 hosts are read as the address they mean; only http(s) URLs are targets", () => {
  for (const url of ["http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/", "http://127.1/"]) expect(parseTarget(url).hostname).toBe("127.0.0.1");
  for (const url of ["ftp://example.com/", "file:///etc/passwd", "javascript:alert(1)", "not a url", "http://user:pw@example.com/"]) {
    expect(() => parseTarget(url), url).toThrow();
  }
});

describe("pinnedRequest: the delivery reaches the address that was checked", () => {
  test("http: the address replaces the name in the URL, the name goes in Host", () => {
    expect(pinnedRequest(new URL("http://hooks.example:8080/in?x=1"), "203.0.113.7")).toEqual({
      href: "http://203.0.113.7:8080/in?x=1",
      host: "hooks.example:8080",
    });
    expect(pinnedRequest(new URL("http://hooks.example/in"), "2001:db8::7").href).toBe("http://[2001:db8::7]/in");
  });

  test("https: TLS names and verifies the certificate against the name, not the address", () => {
    const pinned = pinnedRequest(new URL("https://hooks.example/in"), "203.0.113.7");
    expect(pinned.href).toBe("https://203.0.113.7/in");
    expect(pinned.host).toBe("hooks.example");
    expect(pinned.tls!.serverName).toBe("hooks.example");
    const cert = (name: string) => ({ subject: { CN: name }, subjectaltname: `DNS:${name}` }) as any;
    expect(pinned.tls!.checkServerIdentity("203.0.113.7", cert("hooks.example"))).toBeUndefined();
    expect(pinned.tls!.checkServerIdentity("203.0.113.7", cert("evil.example"))).toBeInstanceOf(Error);
  });

  test("an IP literal URL is used as it is", () => {
    expect(pinnedRequest(new URL("https://203.0.113.7:9443/in"), "203.0.113.7")).toEqual({ href: "https://203.0.113.7:9443/in", host: "203.0.113.7:9443" });
  });
});
