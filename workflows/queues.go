package workflows

// TaskQueue is the queue every Stead worker polls for workflow tasks and
// for the control activities (preparing documents, resolving targets).
const TaskQueue = "stead"

// DefaultRegion is the region of nodes registered without one.
const DefaultRegion = "default"

// RegionTaskQueue is the queue carrying the steps for nodes of one region;
// only workers started with that region poll it, so a step is executed by a
// worker that can reach the node.
func RegionTaskQueue(region string) string {
	if region == "" {
		region = DefaultRegion
	}
	return TaskQueue + "/" + region
}
