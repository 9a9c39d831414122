// The JSON API, called with the session cookie; failures carry the API's error shape.

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || 'http_error';
    this.details = err.details || {};
  }
}

async function call(method, url, { params, body, signal } = {}) {
  let full = url;
  if (params) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== '') query.set(key, value);
    }
    if (query.toString()) full = `${url}?${query}`;
  }
  const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin', signal };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(full, init);
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const getJSON = (url, params, opts = {}) => call('GET', url, { ...opts, params });
export const postJSON = (url, body, opts = {}) => call('POST', url, { ...opts, body });
