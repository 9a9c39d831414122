// The sign-in form: POST /api/v1/auth/login (JSON), then on to the console.

const form = document.getElementById('login-form');
const error = document.getElementById('login-error');

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.hidden = true;
  const button = document.getElementById('login-submit');
  button.disabled = true;
  try {
    const response = await fetch(form.action, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({
        username: form.username.value.trim(),
        password: form.password.value,
      }),
    });
    if (!response.ok) throw new Error(String(response.status));
    window.location.assign(form.dataset.next || '/console');
  } catch (_) {
    error.hidden = false;
    form.password.select();
  } finally {
    button.disabled = false;
  }
});
