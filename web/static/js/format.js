// Numbers and names in the page's language.

export function makeFormat(lang) {
  const locale = lang === 'ar' ? 'ar-SA' : 'en-GB';
  const whole = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  const compact = new Intl.NumberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 });
  return {
    number: (n) => (n === null || n === undefined ? '–' : whole.format(n)),
    compact: (n) => (n === null || n === undefined ? '–' : compact.format(n)),
    name: (props) => (lang === 'ar' ? props.name_ar || props.name_en : props.name_en || props.name_ar) || '',
  };
}
