import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { checkAnnotationLimit, describeLimit, parseAnnotationLimit } from '../../src/core/guard.js';

describe('maxAnnotations', () => {
  it.each([
    ['', undefined],
    ['500', { count: 500 }],
    ['0', { count: 0 }],
    ['25%', { percent: 25 }],
    ['0.5%', { percent: 0.5 }],
    ['100%', { percent: 100 }],
  ])('%j parses', (text, limit) => {
    expect(parseAnnotationLimit(text, 'maxAnnotations')).toEqual(limit);
    if (limit) expect(describeLimit(limit)).toBe(text);
  });

  it.each(['-1', '25 percent', '101%', '1e3', 'ten', '%'])('%j fails naming the input', (text) => {
    expect(() => parseAnnotationLimit(text, '--max-annotations')).toThrow(InputError);
    expect(() => parseAnnotationLimit(text, '--max-annotations')).toThrow(/^--max-annotations: /);
  });

  const planned = new Map(Object.entries({ a: 30, b: 10, c: 5 }));
  const manifests = new Map(Object.entries({ a: 100, b: 100, c: 5 }));

  it('a percentage applies to each repository of its own manifests', () => {
    expect(checkAnnotationLimit({ percent: 25 }, planned, manifests)).toEqual([
      { repository: 'a', planned: 30, manifests: 100, allowed: 25 },
      { repository: 'c', planned: 5, manifests: 5, allowed: 1 },
    ]);
    expect(checkAnnotationLimit({ percent: 100 }, planned, manifests)).toEqual([]);
  });

  it('a count applies to each repository; at the limit passes, one over fails', () => {
    expect(checkAnnotationLimit({ count: 10 }, planned, manifests)).toEqual([
      { repository: 'a', planned: 30, manifests: 100, allowed: 10 },
    ]);
    expect(checkAnnotationLimit({ count: 30 }, planned, manifests)).toEqual([]);
    expect(checkAnnotationLimit({ count: 29 }, planned, manifests)).toHaveLength(1);
  });

  it('a repository the inventory did not count is taken as holding what is planned', () => {
    expect(checkAnnotationLimit({ percent: 50 }, new Map([['x', 4]]), new Map())).toEqual([
      { repository: 'x', planned: 4, manifests: 4, allowed: 2 },
    ]);
  });
});
