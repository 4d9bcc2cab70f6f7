"""The executor's steps of a bucket's baseline (stack/baseline_run.py)."""

from __future__ import annotations

from s3sizer.stack import steps as st


class Baselines:
    """Mixed into the Executor, which provides `stack`, `workers` and `_route_changed_at` (when
    the plan last changed a bucket's notification configuration)."""

    def baseline_handlers(self) -> dict:
        return {
            st.RecordBaseline: self._record_baseline,
            st.MarkBaselineDue: self._mark_baseline_due,
        }

    def _record_baseline(self, step: st.RecordBaseline) -> None:
        from s3sizer.progress import baseline_bar
        from s3sizer.stack.baseline_ranges import routed
        from s3sizer.stack.baseline_run import record
        from s3sizer.stack.fold import as_running

        config = self.stack.config
        if config is not None:  # a plan's baseline runs once its routes are in place
            routed(self.stack.history(config), step.bucket)
            # The tracker's write path: a deploy to the fold switches it before this baseline,
            # and stores its settings only at its end.
            config = as_running(self.stack, config)
        with baseline_bar(step.bucket) as on_progress:
            record(
                self.stack,
                step.bucket,
                versioned=step.versioned,
                depth=step.prefix_depth,
                ttl_days=step.ttl_days,
                # With no route yet nothing else writes the table: the quiet, cheaper run.
                live=bool(self._route_changed_at or (config and config.delivery)),
                # Changes made before the route's new entry took effect may have no record.
                route_since=self._route_changed_at,
                on_progress=on_progress,
                write_path=getattr(config, "write_path", "transaction"),
                **({"workers": self.workers} if self.workers else {}),
            )

    def _mark_baseline_due(self, step: st.MarkBaselineDue) -> None:
        from s3sizer.stack.baseline_ranges import mark_due

        mark_due(self.stack.history(), step.bucket)
