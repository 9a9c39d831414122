// Numbers, durations, times and dates in the console's language.
// Times are shown in the region's zone; dates in both calendars (the server's table,
// computed with hijridate, labels each day; Intl's Umm al-Qura is only a fallback).

export function makeFormat(lang, t, clock) {
  const locale = lang === 'ar' ? 'ar-SA' : 'en-GB';
  const zone = clock.zone || 'Asia/Riyadh';
  const whole = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  const oneDecimal = new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const twoDigits = new Intl.NumberFormat(locale, { minimumIntegerDigits: 2, useGrouping: false });
  const timeFmt = new Intl.DateTimeFormat(locale, {
    timeZone: zone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  });
  const shortTimeFmt = new Intl.DateTimeFormat(locale, {
    timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  });
  const dayKeyFmt = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });
  const gregFallback = new Intl.DateTimeFormat(locale, { timeZone: zone, day: 'numeric', month: 'long', year: 'numeric' });
  const hijriFallback = new Intl.DateTimeFormat(`${locale}-u-ca-islamic-umalqura`, {
    timeZone: zone, day: 'numeric', month: 'long', year: 'numeric',
  });
  const calendar = clock.calendar || {};
  const num = (n) => (n === null || n === undefined || Number.isNaN(n) ? '–' : whole.format(n));

  function dayKey(date) { return dayKeyFmt.format(date); }

  function dates(date) {
    const entry = calendar[dayKey(date)];
    if (entry) return { gregorian: entry.gregorian, hijri: entry.hijri };
    return { gregorian: gregFallback.format(date), hijri: hijriFallback.format(date) };
  }

  return {
    lang,
    number: num,
    name: (o) => (o ? (lang === 'ar' ? o.name_ar || o.name_en : o.name_en || o.name_ar) || '' : ''),
    // An ETA: "3:42" under an hour (minutes:seconds), else "1 h 05".
    eta(seconds) {
      if (seconds === null || seconds === undefined) return '–';
      const s = Math.max(0, Math.round(seconds));
      const h = Math.floor(s / 3600);
      const m = Math.floor((s % 3600) / 60);
      const sec = s % 60;
      if (h > 0) return `${whole.format(h)}:${twoDigits.format(m)}:${twoDigits.format(sec)}`;
      return `${whole.format(m)}:${twoDigits.format(sec)}`;
    },
    distance(metres) {
      if (metres === null || metres === undefined) return '–';
      if (metres < 1000) return `${whole.format(metres)} ${t.m}`;
      return `${oneDecimal.format(metres / 1000)} ${t.km}`;
    },
    // How long ago: "45 s", "12 min", "2 h 05".
    age(seconds) {
      if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '–';
      const s = Math.max(0, Math.floor(seconds));
      if (s < 60) return `${whole.format(s)} ${t.sec}`;
      if (s < 3600) return `${whole.format(Math.floor(s / 60))} ${t.min}`;
      return `${whole.format(Math.floor(s / 3600))}:${twoDigits.format(Math.floor((s % 3600) / 60))}`;
    },
    time: (date) => timeFmt.format(date),
    shortTime: (date) => shortTimeFmt.format(date),
    dayKey,
    dates,
    // A moment for a panel: "14:05:09 · 22 November 2026 · 12 Jumada al-Akhirah 1448 AH";
    // the dates are left out for today (the header shows them).
    moment(date, { withDates = false } = {}) {
      const today = dayKey(new Date());
      if (!withDates && dayKey(date) === today) return timeFmt.format(date);
      const d = dates(date);
      return `${timeFmt.format(date)} · ${d.gregorian} · ${d.hijri}`;
    },
  };
}

export function escapeHtml(text) {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[c]));
}
