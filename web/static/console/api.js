// The JSON API, called with the session cookie; failures carry the API's error shape.
// Every failure becomes an ApiError with a code: the server's `error.code`, or one of
// the client's own: 'network_error' (no answer at all, "Failed to fetch"),
// 'bad_response' (an answer that is not JSON, e.g. a proxy's HTML page) and
// 'http_error' (a JSON answer without the error shape). errorMessage() turns it into
// the user's language through the console's catalogue (messages.json, `error_<code>`).

export class ApiError extends Error {
  constructor(status, body, code) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = code || err.code || 'http_error';
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
  let response;
  try {
    response = await fetch(full, init);
  } catch (error) {
    if (error.name === 'AbortError') throw error; // the caller cancelled it
    throw new ApiError(0, null, 'network_error');
  }
  let data;
  try {
    data = await response.json();
  } catch (_) {
    throw new ApiError(response.status, null, 'bad_response');
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const getJSON = (url, params, opts = {}) => call('GET', url, { ...opts, params });
export const postJSON = (url, body, opts = {}) => call('POST', url, { ...opts, body });

function lookup(details, path) {
  return path.split('.').reduce((o, key) => (o === null || o === undefined ? undefined : o[key]), details);
}

// One placeholder's value, shown the console's way: metres as a distance, seconds as a
// duration, statuses by their label.
function shown(name, value, t, fmt) {
  if (value === null || value === undefined || value === '') return '…';
  const key = name.split('.').pop();
  if (typeof value === 'number') {
    if (key.endsWith('_m')) return fmt.distance(value);
    if (key.endsWith('_s')) return fmt.eta(value);
    return fmt.number(value);
  }
  if (key.endsWith('status')) return t[`status_${value}`] || t[`unit_${value}`] || String(value);
  return String(value);
}

// The message for an ApiError (or any error) in the user's language.
export function errorMessage(error, t, fmt) {
  const code = (error && error.code) || 'http_error';
  const status = (error && error.status) || 0;
  let template = t[`error_${code}`];
  if (!template) template = t[status >= 500 ? 'error_status_5xx' : 'error_status_4xx'];
  const values = { ...((error && error.details) || {}), status, code };
  return template.replace(/\{([a-z_.]+)\}/g, (_, name) => shown(name, lookup(values, name), t, fmt));
}
