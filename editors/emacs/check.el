;;; check.el --- run by editors/emacs/test.sh in batch Emacs  -*- lexical-binding: t -*-
;; After the README's snippet is loaded, open main.whisper and check what
;; a user of eglot sees: the server connects, its error arrives through
;; Flymake, completion inserts plain text (eglot without yasnippet
;; announces no snippet support) and hover answers. Prints "ok: ..." and
;; exits 0, or prints the failure and exits 1.

(require 'cl-lib)
(require 'flymake)

(defun check-fail (fmt &rest args)
  (princ (concat "FAIL: " (apply #'format fmt args) "\n"))
  (let ((server (ignore-errors (eglot-current-server))))
    (when server
      (with-current-buffer (jsonrpc-events-buffer server)
        (princ (buffer-substring (max (point-min) (- (point-max) 4000)) (point-max))))))
  (kill-emacs 1))

(defun check-wait (what pred)
  "Wait up to 30 s for PRED, running timers and the server's output."
  (let ((deadline (+ (float-time) 30)) result)
    (while (not (setq result (funcall pred)))
      (when (> (float-time) deadline)
        (check-fail "timed out waiting for %s" what))
      ;; eglot-ensure and Flymake act after a command; batch Emacs runs
      ;; none, so run the hook as the command loop would.
      (run-hooks 'post-command-hook)
      (accept-process-output nil 0.05))
    result))

(find-file "main.whisper")
(unless (eq major-mode 'whisper-mode)
  (check-fail "major mode is %s, not whisper-mode" major-mode))
(check-wait "eglot to connect to whisperc lsp" #'eglot-managed-p)
(let ((info (eglot--server-info (eglot-current-server))))
  (unless (equal (plist-get info :name) "whisperc")
    (check-fail "connected to %S, not whisperc" info)))

;; The error on line 3 (nf5 is no quantization method), through Flymake.
(let ((d (check-wait "the nf5 error in Flymake"
                     (lambda ()
                       (when (and flymake-mode (not (flymake-running-backends)))
                         (flymake-start))
                       (cl-find-if (lambda (d) (string-match-p "nf5" (flymake-diagnostic-text d)))
                                   (flymake-diagnostics))))))
  (unless (and (memq (flymake-diagnostic-type d) (quote (:error eglot-error)))
               (= (line-number-at-pos (flymake-diagnostic-beg d)) 3))
    (check-fail "the nf5 diagnostic is %S on line %d" (flymake-diagnostic-type d)
                (line-number-at-pos (flymake-diagnostic-beg d))))
  (princ (format "diagnostic: line 3: %s\n" (car (split-string (flymake-diagnostic-text d) "\n")))))

;; Completion inside the finetune block after "max_st": the item must be
;; inserted as plain text, never as a snippet with a literal $0.
(goto-char (point-min))
(search-forward "max_st")
(let* ((capf (eglot-completion-at-point))
       (start (nth 0 capf)) (end (nth 1 capf)) (table (nth 2 capf))
       (props (nthcdr 3 capf))
       (cands (all-completions (buffer-substring-no-properties start end) table))
       (cand (cl-find "max_steps" cands :test #'string-prefix-p)))
  (unless cand
    (check-fail "no max_steps among the completions %S" cands))
  (delete-region start end)
  (goto-char start)
  (insert cand)
  (funcall (plist-get props :exit-function) cand 'finished)
  (let ((line (buffer-substring-no-properties (line-beginning-position) (line-end-position))))
    (when (or (string-match-p "\\$" line) (string-match-p "\0" line)
              (not (string-match-p "^  max_steps = *$" line)))
      (check-fail "completion inserted %S" line))
    (princ (format "completion: %S\n" line))))

;; Hover on the reference to the model: eglot's ElDoc function renders it.
(goto-char (point-min))
(search-forward "model = bas")
(let* ((got nil)
       (_ (eglot-hover-eldoc-function (lambda (info &rest _) (setq got (or info 'empty)))))
       (text (check-wait "the hover" (lambda () got))))
  (unless (and (stringp text) (string-match-p "base" text))
    (check-fail "hover returned %S" text))
  (princ (format "hover: %s\n" (car (split-string text "\n")))))

(princ "ok: eglot connected, showed the diagnostic, completed plain text and hovered\n")
(kill-emacs 0)
