/** The `--to` URIs of `lpclust assign`: what each sink is, and what a user sees of it (no password). */
import { describe, expect, it } from 'vitest';
import { MongoSink, parseSinkUri, PostgresSink, PostSink } from '../../src/assign/sinks.js';
import { isLpclustError } from '../../src/errors.js';
import { maskSecrets } from '../../src/util/mask.js';

function usage(spec: string): string {
  try {
    parseSinkUri(spec);
  } catch (e) {
    expect(isLpclustError(e) && e.kind).toBe('usage');
    return (e as Error).message;
  }
  throw new Error(`parseSinkUri accepted ${spec}`);
}

describe('assign sinks', () => {
  it('postgres://…#table and mongodb://…/db.collection, shown with the password masked', () => {
    const pg = parseSinkUri('postgres://writer:PgSecret42@db.example:5432/energy#public.assignments');
    expect(pg).toBeInstanceOf(PostgresSink);
    expect((pg as PostgresSink).table).toBe('public.assignments');
    expect(pg.display).toBe('postgres://writer:***@db.example:5432/energy#public.assignments');
    const mongo = parseSinkUri('mongodb://writer:MgSecret42@db.example:27017/energy.day_assignments?authSource=admin');
    expect(mongo).toBeInstanceOf(MongoSink);
    expect([(mongo as MongoSink).db, (mongo as MongoSink).collection]).toEqual(['energy', 'day_assignments']);
    expect(mongo.display).toBe('mongodb://writer:***@db.example:27017/energy.day_assignments?authSource=admin');
    const srv = parseSinkUri('mongodb+srv://u:SrvSecret42@cluster0.example/energy.a.b') as MongoSink;
    expect([srv.db, srv.collection]).toEqual(['energy', 'a.b']);
    // The passwords are registered: masked in any later text.
    expect(maskSecrets('PgSecret42 MgSecret42 SrvSecret42')).toBe('*** *** ***');
  });

  it('refuses what it cannot write to, naming the expected form, without the password', () => {
    expect(usage('postgres://u:Hidden777@h/db')).toContain('#table');
    expect(usage('postgres://u:Hidden777@h/db#drop table')).toContain('letters, digits and _');
    expect(usage('mongodb://u:Hidden777@h:27017/energy')).toContain('database.collection');
    expect(usage('mongodb://u:Hidden777@h:27017/')).toContain('database.collection');
    expect(usage('redis://u:Hidden777@h/0')).toContain('postgres://');
    for (const s of ['postgres://u:Hidden777@h/db', 'mongodb://u:Hidden777@h:27017/energy', 'redis://u:Hidden777@h/0']) expect(usage(s)).not.toContain('Hidden777');
    expect(() => new PostSink('ftp://h/x')).toThrow(/http:\/\/ or https:\/\//);
    expect(new PostSink('https://feed:PostHidden1@h.example/in').display).toBe('https://feed:***@h.example/in');
  });
});
