// Typeset the pages' math with KaTeX (shipped with the site: no CDN). The notebooks write TeX between $...$ (inline)
// and $$...$$ (display), as JupyterLab reads it; code, outputs in <pre> and the widgets' notes are left alone.
(function () {
  function typeset() {
    var root = document.querySelector('.md-content') || document.body;
    renderMathInElement(root, {
      delimiters: [
        {left: '$$', right: '$$', display: true},
        {left: '\\[', right: '\\]', display: true},
        {left: '\\(', right: '\\)', display: false},
        {left: '$', right: '$', display: false}
      ],
      ignoredTags: ['script', 'noscript', 'style', 'textarea', 'pre', 'code', 'option'],
      throwOnError: true,  // a formula KaTeX cannot read is reported in the console (the browser test fails on it)
      errorCallback: function (message, error) { console.error('KaTeX: ' + message, error); }
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', typeset);
  else typeset();
})();
