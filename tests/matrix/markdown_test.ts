import assert from "node:assert/strict";
import { mayMention, mayNeedFormatting, pillHref } from "../../src/matrix/format.ts";
import { formatMarkdown } from "../../src/matrix/markdown.ts";

const users = new Map([["alice", "@alice:hs"], ["bob.2", "@b:hs"]]);

Deno.test("Markdown as Element shows it", async (t) => {
  await t.step("plain text stays plain: no HTML, and no reason to load the renderer", () => {
    for (const body of ["hello there", "a\nb", "3 < 4 & 5 > 2", "ends with a dot."]) {
      assert.deepEqual(formatMarkdown(body, users), { mentioned: [] }, body);
    }
    assert.equal(mayNeedFormatting("hello there\nsecond line"), false);
  });

  await t.step("markup becomes the HTML the spec allows", () => {
    const { html } = formatMarkdown("**Status**: ok\n\n- one\n- `two`\n\n~~gone~~", users);
    assert.equal(
      html,
      "<p><strong>Status</strong>: ok</p>\n<ul>\n<li>one</li>\n<li><code>two</code></li>\n</ul>\n<p><s>gone</s></p>",
    );
    const fence = formatMarkdown("```ts\nconst a = 1;\n```", users).html;
    assert.equal(fence, '<pre><code class="language-ts">const a = 1;\n</code></pre>');
    assert.match(formatMarkdown("| a |\n|---|\n| 1 |", users).html!, /<table>[\s\S]*<td>1<\/td>/);
    for (const body of ["**x**", "# Title", "- item", "1. first", "[a](https://b.c)", "a\\*b"]) {
      assert.equal(mayNeedFormatting(body), true, body);
      assert.notEqual(formatMarkdown(body, users).html, undefined, body);
    }
  });

  await t.step("raw HTML and unsafe links stay text; a foreign image becomes a link", () => {
    const raw = formatMarkdown("<script>alert(1)</script> <b>x</b> *y*", users).html!;
    assert.equal(
      raw,
      "<p>&lt;script&gt;alert(1)&lt;/script&gt; &lt;b&gt;x&lt;/b&gt; <em>y</em></p>",
    );
    const link = formatMarkdown("[j](javascript:alert(1)) ![pic](https://elsewhere/p.png)", users);
    assert.equal(
      link.html,
      '<p>[j](javascript:alert(1)) <a href="https://elsewhere/p.png">pic</a></p>',
    );
    const mxc = formatMarkdown("![pic](mxc://hs/abc)", users).html;
    assert.equal(mxc, '<p><img src="mxc://hs/abc" alt="pic" /></p>');
  });

  await t.step("@name of a known user is a mention and a pill, outside code and links", () => {
    const text = "hi @alice and @carol, `@alice`, [@alice](https://x.y), a@alice.com; @bob.2.";
    assert.equal(mayMention(text), true);
    const { html, mentioned } = formatMarkdown(text, users);
    assert.deepEqual(mentioned, ["@alice:hs", "@b:hs"]);
    assert.equal(
      html,
      `<p>hi <a href="${pillHref("@alice:hs")}">alice</a> and @carol, <code>@alice</code>, ` +
        `<a href="https://x.y">@alice</a>, a@alice.com; <a href="${
          pillHref("@b:hs")
        }">bob.2</a>.</p>`,
    );
  });

  await t.step("a full user id, an address or an unknown name mentions nobody", () => {
    for (const text of ["ask @alice:hs", "mail a@alice.com", "@carol, hi", "email@alice"]) {
      assert.deepEqual(formatMarkdown(text, users).mentioned, [], text);
    }
    assert.deepEqual(formatMarkdown("@alice: the build", users).mentioned, ["@alice:hs"]);
    assert.equal(mayMention("no one here"), false);
  });
});
