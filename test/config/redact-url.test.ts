import { describe, expect, it } from "vitest";
import { redactUrl } from "../../src/redact-url.ts";

describe("redactUrl: URL passwords hidden before a message or a log shows them", () => {
  it("masks the password of a URL WHATWG URL parses, leaving the rest as written", () => {
    expect(redactUrl("redis://:secret@h:6379")).toBe("redis://:***@h:6379");
    expect(redactUrl("postgresql://mimic:s3cret@127.0.0.1:5432/mimic?schema=x")).toBe("postgresql://mimic:***@127.0.0.1:5432/mimic?schema=x");
    expect(redactUrl("rediss://default:pw@cache.example.com:6380/2")).toBe("rediss://default:***@cache.example.com:6380/2");
    expect(redactUrl("https://user:pw@example.com/x")).toBe("https://user:***@example.com/x");
    expect(redactUrl("redis://u:pw@[::1]:6379/0")).toBe("redis://u:***@[::1]:6379/0");
  });

  it("masks a percent-encoded password whole", () => {
    expect(redactUrl("redis://u:p%40ss%2Fw%3A@h/0")).toBe("redis://u:***@h/0");
    expect(redactUrl("postgresql://me%40srv:pa%20ss@host/db")).toBe("postgresql://me%40srv:***@host/db");
  });

  it("masks the whole password where it holds unencoded @, /, ?, # or a space (URLs that do not parse, or parse oddly)", () => {
    // The userinfo runs to the last "@", as WHATWG URL reads it.
    expect(redactUrl("postgresql://u:p@ss@host/db")).toBe("postgresql://u:***@host/db");
    // Azure's user@server usernames.
    expect(redactUrl("postgresql://me@srv:pass@host.example.com:5432/db")).toBe("postgresql://me@srv:***@host.example.com:5432/db");
    expect(() => new URL("postgresql://u:pa/ss@host/db")).toThrow();
    expect(redactUrl("postgresql://u:pa/ss@host/db")).toBe("postgresql://u:***@host/db");
    expect(redactUrl("postgresql://me@srv:pa/ss@host/db")).toBe("postgresql://me@srv:***@host/db");
    expect(redactUrl("redis://:pa/ss@h")).toBe("redis://:***@h");
    expect(redactUrl("redis://u:p#ss@h")).toBe("redis://u:***@h");
    expect(redactUrl("redis://u:p?ss@h")).toBe("redis://u:***@h");
    expect(redactUrl("http://u:p\\ss@h")).toBe("http://u:***@h");
    expect(redactUrl("redis://u:pa ss@h:6379")).toBe("redis://u:***@h:6379");
    // A URL inside a password.
    expect(redactUrl("redis://u:http://a:b@c@h")).toBe("redis://u:***@h");
  });

  it("leaves URLs without a password as they are", () => {
    for (const url of [
      "postgresql://mimic@127.0.0.1:5432/mimic",
      "redis://h:6379",
      "redis://[::1]:6379",
      "redis://u:@h",
      "file:///data/mimic.db",
      "file:/data/x@y.db",
      "https://example.com:443/@user",
      "https://h/p?x=a:b@c#f",
      "https://api.telegram.org",
      "",
    ]) {
      expect(redactUrl(url), url).toBe(url);
    }
  });

  it("masks every URL's password in running text, and a user:password@host word without a scheme", () => {
    expect(redactUrl("connect failed: DATABASE_URL=postgresql://admin:hunter2@db.internal/x; retry redis://:pw2@r:1 now")).toBe(
      "connect failed: DATABASE_URL=postgresql://admin:***@db.internal/x; retry redis://:***@r:1 now",
    );
    expect(redactUrl("redis://u:pw@h and mimic:pw2@h2")).toBe("redis://u:***@h and mimic:***@h2");
    expect(redactUrl("mimic:s3cret@db")).toBe("mimic:***@db");
    expect(redactUrl('QUEUE_URL="mimic:s3cret@h:6379" is wrong')).toBe('QUEUE_URL="mimic:***@h:6379" is wrong');
    expect(redactUrl("%%%redis://user:pw@@@::")).toBe("%%%redis://user:***@::");
    expect(redactUrl("at 12:30 in a@b")).toBe("at 12:30 in a@b");
  });

  it("never throws, whatever it is given", () => {
    const samples = ["://", "redis://", "redis://@", "redis://:@", "a://[", "x://]:@", ":@", "@:", "redis://[::1", "\u0000://\u0000:\u0000@", "a".repeat(10_000) + "://u:p@h"];
    for (const s of samples) expect(() => redactUrl(s), JSON.stringify(s.slice(0, 20))).not.toThrow();
    // Random strings over the characters URLs are made of: never a throw, and never the secret shown.
    const alphabet = ":/@?#[]% a\\";
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 0; n < 2000; n++) {
      let junk = "";
      for (let i = next() * 12; i > 0; i--) junk += alphabet[Math.floor(next() * alphabet.length)];
      const text = `redis://u:SECRET${junk}@h${junk}`;
      expect(() => redactUrl(text)).not.toThrow();
      expect(redactUrl(text), text).not.toContain("SECRET");
    }
  });
});
