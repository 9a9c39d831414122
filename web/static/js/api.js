// Fetching JSON from the Najda API; failures surface the API's error shape.

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || 'http_error';
    this.details = err.details || {};
  }
}

export async function getJSON(url, params = {}, { signal } = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') query.set(key, value);
  }
  const full = query.toString() ? `${url}?${query}` : url;
  const response = await fetch(full, { headers: { Accept: 'application/json' }, signal });
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}
