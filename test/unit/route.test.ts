import { describe, expect, it } from 'vitest';
import { compileRoutes } from '../../src/proxy/route-matcher.js';

describe('route templates', () => {
  const routes = compileRoutes(['/api/items/:id', '/api/items/new', '/api/cart', '/files/*', '/users/:user/orders/:order']);

  it('matches parameters, literals and a trailing wildcard', () => {
    expect(routes.match('/api/items/42')).toBe('/api/items/:id');
    expect(routes.match('/api/cart')).toBe('/api/cart');
    expect(routes.match('/api/cart/')).toBe('/api/cart');
    expect(routes.match('/files')).toBe('/files/*');
    expect(routes.match('/files/a/b/c.txt')).toBe('/files/*');
    expect(routes.match('/users/7/orders/9')).toBe('/users/:user/orders/:order');
  });

  it('prefers a literal template over a parameterised one', () => {
    expect(routes.match('/api/items/new')).toBe('/api/items/new');
  });

  it('answers "" for anything else, so a raw path never becomes a label', () => {
    expect(routes.match('/api/items')).toBe('');
    expect(routes.match('/api/items/42/extra')).toBe('');
    expect(routes.match('/api/items//')).toBe('');
    expect(routes.match('/users/7/orders')).toBe('');
    expect(routes.match('/')).toBe('');
  });

  it('treats regular-expression characters in templates literally', () => {
    const r = compileRoutes(['/v1.0/:id']);
    expect(r.match('/v1.0/3')).toBe('/v1.0/:id');
    expect(r.match('/v1x0/3')).toBe('');
  });

  it('matches nothing without templates', () => {
    expect(compileRoutes([]).match('/anything')).toBe('');
  });
});
