import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_HTML_ENTITIES, MAX_HTML_TAGS, sanitizeMailHtml } from './sanitize.js';

test('HTML with more tags than MAX_HTML_TAGS is shown as its escaped text, tags removed', () => {
  const bomb = '<div>'.repeat(1_000_000) + 'hello <script>alert(1)</script> & bye';
  const r = sanitizeMailHtml(bomb);
  assert.match(r.html, /^<pre style="white-space: pre-wrap">[\s\S]*hello  alert\(1\)  &amp; bye<\/pre>$/);
  assert.doesNotMatch(r.html, /<div>|<script>/);
  const unclosed = sanitizeMailHtml('<a href="'.repeat(MAX_HTML_TAGS + 1));
  assert.equal(unclosed.html, '<pre style="white-space: pre-wrap"></pre>');
});

test('HTML within the bound is sanitized as before', () => {
  const r = sanitizeMailHtml('<p>hi <b>there</b></p><script>x()</script><img src="https://t.example/p.gif">');
  assert.equal(r.html, '<p>hi <b>there</b></p><img alt="" />');
  assert.equal(r.blockedImages, 1);
});

test('HTML with more character references than MAX_HTML_ENTITIES is shown as its escaped text', () => {
  const many = sanitizeMailHtml('<p>hi</p>' + '&#'.repeat(MAX_HTML_ENTITIES + 1));
  assert.match(many.html, /^<pre style="white-space: pre-wrap"> hi (&amp;#){100}/);
  const fine = sanitizeMailHtml('<p>a &amp; b</p>');
  assert.equal(fine.html, '<p>a &amp; b</p>');
});
